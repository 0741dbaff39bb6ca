/**
 * `npm run bench` (second part): drain throughput. The same objects are copied once backend to backend by a plain
 * streaming copy (GET piped into PUT, as many at a time as the drain moves), then drained through the
 * orchestrator (its Durable Object's alarms, CAS record swaps, source deletes). Prints objects/s and MB/s of both
 * (MB = 10^6 bytes). Everything runs on 127.0.0.1 (PostgreSQL 15, radosgw, wrangler dev) and is removed after.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { benchWorkerVars } from './lib/bench-stack.ts';
import { startWorker } from './lib/worker-dev.ts';
import { DRAIN_CONCURRENCY } from '../src/backend-state/drain-settings.ts';
import { listBucketKeys, plainCopy, pool, runBench, startBenchServices, throughputRow } from './lib/bench-run.ts';

const SMALL = { count: 400, size: 64 * 1024 };
const LARGE = { count: 4, size: 16 * 1024 * 1024 };
/** The plain copy moves as many copies at a time as the drain does. */
const CONCURRENCY = DRAIN_CONCURRENCY;
const TOKEN = 'bench-drain-admin-token-0123';
const CREDENTIALS = { accessKeyId: 'bench-drain', secretAccessKey: 'bench-drain-secret' };
const TIME_LIMIT_MS = 15 * 60_000;

const dir = mkdtempSync(join(tmpdir(), 's3o-bench-drain-'));
const stops: (() => Promise<void>)[] = [];
const log = (message: string) => console.log(`bench-drain: ${message}`);

async function main(): Promise<void> {
  const { postgres, rgw, bridge, aws } = await startBenchServices(dir, stops, ['drain-a', 'drain-b', 'plain-copy'], log);
  const backend = (name: string, bucket: string) => ({
    name,
    endpoint: rgw.endpoint,
    bucket,
    region: rgw.region,
    access_key_id: '${RGW_ACCESS_KEY}',
    secret_access_key: '${RGW_SECRET_KEY}',
    force_path_style: true,
  });
  const config = {
    server: { log_level: 'warn' },
    admin: { token: TOKEN },
    routing_strategy: 'pack',
    buckets: [{ name: 'bench', credentials: [{ access_key_id: CREDENTIALS.accessKeyId, secret_access_key: CREDENTIALS.secretAccessKey }] }],
    backends: [backend('a', 'drain-a'), backend('b', 'drain-b')],
  };
  log('starting the Worker (wrangler dev)');
  const worker = await startWorker({
    persistDir: join(dir, 'wrangler'),
    output: 'ignore',
    vars: benchWorkerVars(config, rgw, postgres, bridge),
  });
  stops.push(worker.stop);

  const s3 = new S3Client({ endpoint: worker.url, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS });
  const keys = [
    ...Array.from({ length: SMALL.count }, (_, i) => ({ key: `small/${i}`, size: SMALL.size })),
    ...Array.from({ length: LARGE.count }, (_, i) => ({ key: `large/${i}`, size: LARGE.size })),
  ];
  const totalBytes = keys.reduce((sum, k) => sum + k.size, 0);
  log(`writing ${keys.length} objects (${(totalBytes / 1e6).toFixed(1)} MB) through the orchestrator onto backend a`);
  await pool(keys, 8, async ({ key, size }) => {
    await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: Buffer.alloc(size, key.length) }));
  });

  // The physical keys as the orchestrator stored them on backend a.
  const physical = await listBucketKeys(aws, rgw.endpoint, 'drain-a');

  log(`plain copy: ${physical.length} objects from drain-a to plain-copy, ${CONCURRENCY} at a time`);
  const plainSeconds = await plainCopy(aws, rgw.endpoint, 'drain-a', 'plain-copy', physical, CONCURRENCY);

  log('draining backend a through the orchestrator');
  const admin = (method: string, path: string) => fetch(`${worker.url}${path}`, { method, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
  const drainStart = performance.now();
  const started = await admin('POST', '/admin/api/backends/a/drain');
  if (started.status !== 202) throw new Error(`drain did not start: ${started.status} ${await started.text()}`);
  let status: { mode: string; objects_moved: number; bytes_moved: number; failures: number } = { mode: 'draining', objects_moved: 0, bytes_moved: 0, failures: 0 };
  while (status.mode !== 'drained') {
    if (performance.now() - drainStart > TIME_LIMIT_MS) throw new Error('the drain did not finish in time');
    await new Promise((r) => setTimeout(r, 250));
    status = (await (await admin('GET', '/admin/api/backends/a/drain')).json()) as typeof status;
  }
  const drainSeconds = (performance.now() - drainStart) / 1000;

  const row = throughputRow;
  console.log('');
  console.log(`drain throughput: ${keys.length} objects (${SMALL.count} x ${SMALL.size / 1024} KiB, ${LARGE.count} x ${LARGE.size / 1024 ** 2} MiB), ${(totalBytes / 1e6).toFixed(1)} MB, radosgw to radosgw`);
  console.log(row('plain backend-to-backend copy', plainSeconds, physical.length, totalBytes));
  console.log(row('orchestrator drain', drainSeconds, status.objects_moved, status.bytes_moved));
  console.log(`drain / plain copy: ${(plainSeconds / drainSeconds).toFixed(2)}x the objects/s; drain failures: ${status.failures}`);
}

runBench('bench-drain', dir, stops, main);
