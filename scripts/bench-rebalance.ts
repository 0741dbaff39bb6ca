/**
 * `npm run bench` (part): rebalance throughput. Objects are written through the orchestrator onto backend a
 * (routing pack); a `spread` pass then moves about half of them to backend b (the admin route, asked again while
 * the pass has moves left, as `admin rebalance --execute` does). The copies it moved are then copied once more by a
 * plain streaming copy (GET piped into PUT, as many at a time as the pass moves), the yardstick. Prints objects/s
 * and MB/s of both (MB = 10^6 bytes); the goal is a pass at 0.8x the plain copy or better. Everything runs on
 * 127.0.0.1 (PostgreSQL 15, radosgw, wrangler dev) and is removed after.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { benchWorkerVars } from './lib/bench-stack.ts';
import { startWorker } from './lib/worker-dev.ts';
import { listBucketKeys, plainCopy, pool, runBench, startBenchServices, throughputRow } from './lib/bench-run.ts';

const SMALL = { count: 400, size: 64 * 1024 };
const LARGE = { count: 4, size: 16 * 1024 * 1024 };
const CONCURRENCY = 2;
const QUOTA = 1024 ** 3;
const TOKEN = 'bench-rebalance-admin-token-01';
const CREDENTIALS = { accessKeyId: 'bench-rebalance', secretAccessKey: 'bench-rebalance-secret' };
const TIME_LIMIT_MS = 15 * 60_000;

const dir = mkdtempSync(join(tmpdir(), 's3o-bench-rebalance-'));
const stops: (() => Promise<void>)[] = [];
const log = (message: string) => console.log(`bench-rebalance: ${message}`);

interface PassAnswer {
  status: string;
  reason?: string;
  moved?: number;
  failed?: number;
  bytes_moved?: number;
  left?: number;
}

async function main(): Promise<void> {
  const { postgres, rgw, bridge, aws } = await startBenchServices(dir, stops, ['rebalance-a', 'rebalance-b', 'plain-copy'], log);
  const backend = (name: string, bucket: string) => ({
    name,
    endpoint: rgw.endpoint,
    bucket,
    region: rgw.region,
    access_key_id: '${RGW_ACCESS_KEY}',
    secret_access_key: '${RGW_SECRET_KEY}',
    force_path_style: true,
    quota_bytes: QUOTA,
  });
  const config = {
    server: { log_level: 'warn' },
    admin: { token: TOKEN },
    routing_strategy: 'pack',
    rebalance: { strategy: 'spread', batch_size: 10_000, concurrency: CONCURRENCY, threshold: 0.01 },
    buckets: [{ name: 'bench', credentials: [{ access_key_id: CREDENTIALS.accessKeyId, secret_access_key: CREDENTIALS.secretAccessKey }] }],
    backends: [backend('a', 'rebalance-a'), backend('b', 'rebalance-b')],
  };
  log('starting the Worker (wrangler dev)');
  const worker = await startWorker({ persistDir: join(dir, 'wrangler'), output: 'ignore', vars: benchWorkerVars(config, rgw, postgres, bridge) });
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

  log('one spread pass through the orchestrator (admin rebalance --execute)');
  const admin = async (path: string): Promise<PassAnswer> => {
    const response = await fetch(`${worker.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as PassAnswer;
  };
  const totals = { moved: 0, failed: 0, bytes: 0 };
  const passStart = performance.now();
  for (let left: number | undefined; ; ) {
    if (performance.now() - passStart > TIME_LIMIT_MS) throw new Error('the pass did not finish in time');
    const answer = await admin(`/admin/api/rebalance${left ? `?limit=${left}` : ''}`);
    if (answer.status === 'skipped') {
      if (totals.moved === 0) throw new Error(`the pass was skipped: ${answer.reason}`);
      break;
    }
    totals.moved += answer.moved ?? 0;
    totals.failed += answer.failed ?? 0;
    totals.bytes += answer.bytes_moved ?? 0;
    left = answer.left ?? 0;
    if (left === 0) break;
  }
  const passSeconds = (performance.now() - passStart) / 1000;

  const moved = await listBucketKeys(aws, rgw.endpoint, 'rebalance-b');
  log(`plain copy: the ${moved.length} moved objects from rebalance-b to plain-copy, ${CONCURRENCY} at a time`);
  const plainSeconds = await plainCopy(aws, rgw.endpoint, 'rebalance-b', 'plain-copy', moved, CONCURRENCY);

  console.log('');
  console.log(`rebalance throughput: ${totals.moved} of ${keys.length} objects moved (${SMALL.count} x ${SMALL.size / 1024} KiB, ${LARGE.count} x ${LARGE.size / 1024 ** 2} MiB written), radosgw to radosgw, concurrency ${CONCURRENCY}`);
  console.log(throughputRow('plain backend-to-backend copy', plainSeconds, moved.length, totals.bytes));
  console.log(throughputRow('orchestrator rebalance pass', passSeconds, totals.moved, totals.bytes));
  console.log(`rebalance / plain copy: ${(plainSeconds / passSeconds).toFixed(2)}x the objects/s (goal 0.8x); failures: ${totals.failed}`);
}

runBench('bench-rebalance', dir, stops, main);
