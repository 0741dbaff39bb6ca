/**
 * `npm run bench` (encryption part): the cost of encryption at rest. The same Worker (wrangler dev, PostgreSQL 15,
 * radosgw) runs first without and then with encryption; each run PUTs (UNSIGNED-PAYLOAD) and GETs a 256 MiB
 * object and prints MB/s, the ratio encrypted / plaintext (goal >= 0.8x) and workerd's RSS growth during a 1 GiB
 * encrypted PUT and GET (goal < 64 MB). Then encrypt-existing seals objects written without encryption, timed
 * against a plain backend-to-backend copy of the same objects. It measures and prints; it does not gate.
 * MB = 10^6 bytes. Everything runs on 127.0.0.1 and is removed after.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { AwsClient } from 'aws4fetch';
import { BENCH_INSPECTOR, benchWorkerVars } from './lib/bench-stack.ts';
import { GiB, MiB, drainAndCheck, objectStream } from './lib/bench-data.ts';
import { sampleRss, totalRss, workerdPids } from './lib/bench-proc.ts';
import { type WorkerProcess, startWorker } from './lib/worker-dev.ts';
import { pool, runBench, startBenchServices } from './lib/bench-run.ts';
import { ratioRow, recordTargets, type TargetRow } from './lib/bench-targets.ts';

const TOKEN = 'bench-encryption-token-0123';
const CREDENTIALS = { accessKeyId: 'bench-enc', secretAccessKey: 'bench-enc-secret' };
const KEY = Buffer.alloc(32, 0x5a).toString('base64');
const SMALL = { count: 400, size: 64 * 1024 };
const LARGE = { count: 4, size: 16 * MiB };
const TIME_LIMIT_MS = 15 * 60_000;

const dir = mkdtempSync(join(tmpdir(), 's3o-bench-encryption-'));
const stops: (() => Promise<void>)[] = [];
const log = (message: string) => console.log(`bench-encryption: ${message}`);
const mb = (bytes: number) => (bytes / 1e6).toFixed(1);

async function main(): Promise<void> {
  const { postgres, rgw, bridge, aws } = await startBenchServices(dir, stops, ['enc-a', 'plain-copy'], log);
  const config = (encrypted: boolean) => ({
    server: { log_level: 'warn', max_object_size: '2GiB' },
    admin: { token: TOKEN },
    buckets: [{ name: 'bench', credentials: [{ access_key_id: CREDENTIALS.accessKeyId, secret_access_key: CREDENTIALS.secretAccessKey }] }],
    backends: [
      {
        name: 'a',
        endpoint: rgw.endpoint,
        bucket: 'enc-a',
        region: rgw.region,
        access_key_id: '${RGW_ACCESS_KEY}',
        secret_access_key: '${RGW_SECRET_KEY}',
        force_path_style: true,
      },
    ],
    ...(encrypted ? { encryption: { enabled: true, master_key: '${BENCH_ENCRYPTION_KEY}' } } : {}),
  });
  let worker: WorkerProcess | undefined;
  const launch = async (encrypted: boolean) => {
    await worker?.stop();
    worker = await startWorker({
      persistDir: join(dir, 'wrangler'),
      output: 'ignore',
      inspector: BENCH_INSPECTOR,
      vars: { ...benchWorkerVars(config(encrypted), rgw, postgres, bridge), BENCH_ENCRYPTION_KEY: KEY },
    });
    return worker;
  };
  stops.push(async () => worker?.stop());

  const results: Record<string, { put: number; get: number }> = {};
  const targets: TargetRow[] = [];
  for (const encrypted of [false, true]) {
    const label = encrypted ? 'encrypted' : 'plaintext';
    const w = await launch(encrypted);
    const s3 = new S3Client({ endpoint: w.url, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
    log(`${label}: 256 MiB PUT and GET`);
    results[label] = await transfer(s3, `${label}/256MiB`, 256 * MiB);
    if (encrypted) {
      log('encrypted: 1 GiB PUT and GET while sampling workerd RSS');
      const pids = workerdPids(w.pid);
      const baseline = totalRss(pids);
      const sampler = sampleRss(pids);
      const big = await transfer(s3, 'encrypted/1GiB', GiB);
      const sample = sampler.stop();
      const growth = sample.peak - baseline;
      console.log(`  1 GiB encrypted: PUT ${mb(big.put)} MB/s, GET ${mb(big.get)} MB/s; workerd RSS growth ${mb(growth)} MB (goal < 64 MB)`);
      targets.push({ measurement: 'workerd RSS growth, 1 GiB encrypted PUT and GET', orchestrator: `${mb(growth)} MB`, yardstick: '', ratio: '', target: '< 64 MB', result: growth < 64e6 ? 'PASS' : 'MISS' });
    }
  }
  const plain = results.plaintext!;
  const sealed = results.encrypted!;
  console.log('');
  console.log('encryption at rest, 256 MiB, radosgw, UNSIGNED-PAYLOAD PUT:');
  console.log(`  plaintext  PUT ${mb(plain.put)} MB/s  GET ${mb(plain.get)} MB/s`);
  console.log(`  encrypted  PUT ${mb(sealed.put)} MB/s  GET ${mb(sealed.get)} MB/s`);
  console.log(`  encrypted / plaintext: PUT ${(sealed.put / plain.put).toFixed(2)}x, GET ${(sealed.get / plain.get).toFixed(2)}x (goal >= 0.8x)`);
  targets.unshift(
    ratioRow('encrypted PUT 256 MiB (MB/s)', sealed.put / 1e6, plain.put / 1e6, 0.8, 'plaintext'),
    ratioRow('encrypted GET 256 MiB (MB/s)', sealed.get / 1e6, plain.get / 1e6, 0.8, 'plaintext'),
  );
  recordTargets('5-encryption', targets);

  // encrypt-existing: objects written in plaintext, then sealed by the job, against a plain copy of the same bytes.
  const w = await launch(false);
  const s3 = new S3Client({ endpoint: w.url, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
  const keys = [
    ...Array.from({ length: SMALL.count }, (_, i) => ({ key: `existing/small/${i}`, size: SMALL.size })),
    ...Array.from({ length: LARGE.count }, (_, i) => ({ key: `existing/large/${i}`, size: LARGE.size })),
  ];
  const totalBytes = keys.reduce((n, k) => n + k.size, 0);
  log(`writing ${keys.length} plaintext objects (${mb(totalBytes)} MB)`);
  await pool(keys, 8, async ({ key, size }) => {
    await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: Buffer.alloc(size, key.length) }));
  });
  const rows = await physicalKeys(aws, `${rgw.endpoint}/enc-a`, 'bench/existing/');
  log(`plain copy of the same ${rows.length} objects, 2 at a time (as the job moves them)`);
  const plainStart = performance.now();
  await pool(rows, 2, async (key) => {
    const source = await aws.fetch(`${rgw.endpoint}/enc-a/${key}`);
    const put = await aws.fetch(`${rgw.endpoint}/plain-copy/${key}`, {
      method: 'PUT',
      body: source.body,
      headers: { 'content-length': source.headers.get('content-length') ?? '0', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      duplex: 'half',
    } as RequestInit);
    if (!put.ok) throw new Error(`plain copy PUT ${key}: ${put.status}`);
    await put.body?.cancel();
  });
  const plainSeconds = (performance.now() - plainStart) / 1000;
  const enc = await launch(true);
  const admin = async (method: string, path: string) =>
    (await (await fetch(`${enc.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } })).json()) as Record<string, unknown>;
  log('encrypt-existing through the jobs queue');
  const jobStart = performance.now();
  let job = await admin('POST', '/admin/api/encrypt-existing');
  while (job.status !== 'complete') {
    if (performance.now() - jobStart > TIME_LIMIT_MS) throw new Error('encrypt-existing did not finish in time');
    await new Promise((r) => setTimeout(r, 250));
    job = await admin('GET', '/admin/api/encrypt-existing');
  }
  const jobSeconds = (performance.now() - jobStart) / 1000;
  const row = (label: string, seconds: number, objects: number) =>
    `  ${label.padEnd(32)} ${seconds.toFixed(2).padStart(8)} s ${(objects / seconds).toFixed(1).padStart(8)} obj/s ${(totalBytes / 1e6 / seconds).toFixed(1).padStart(8)} MB/s`;
  console.log('');
  console.log(`encrypt-existing: ${keys.length} objects (${SMALL.count} x 64 KiB, ${LARGE.count} x 16 MiB), ${mb(totalBytes)} MB`);
  console.log(row('plain backend-to-backend copy', plainSeconds, rows.length));
  console.log(row('encrypt-existing', jobSeconds, Number(job.encrypted)));
  console.log(`  encrypt-existing / plain copy: ${(plainSeconds / jobSeconds).toFixed(2)}x; failed ${String(job.failed)}`);
}

async function transfer(s3: S3Client, key: string, size: number): Promise<{ put: number; get: number }> {
  const putStart = performance.now();
  await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: objectStream(7, size), ContentLength: size }));
  const put = size / ((performance.now() - putStart) / 1000);
  const getStart = performance.now();
  const out = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: key }));
  const read = await drainAndCheck(out.Body as AsyncIterable<Uint8Array>, 7);
  const get = size / ((performance.now() - getStart) / 1000);
  if (read.bytes !== size || read.firstMismatch !== undefined) throw new Error(`${key}: read ${read.bytes} bytes, first mismatch at ${read.firstMismatch}`);
  return { put, get };
}

async function physicalKeys(aws: AwsClient, bucketUrl: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token = '';
  do {
    const listed = await (await aws.fetch(`${bucketUrl}?list-type=2&max-keys=1000&prefix=${encodeURIComponent(prefix)}${token ? `&continuation-token=${encodeURIComponent(token)}` : ''}`)).text();
    keys.push(...[...listed.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1] ?? ''));
    token = /<NextContinuationToken>([^<]*)</.exec(listed)?.[1] ?? '';
  } while (token);
  return keys;
}

runBench('bench-encryption', dir, stops, main);
