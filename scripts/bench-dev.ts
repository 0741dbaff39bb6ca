/**
 * Part of `npm run bench`: an open-loop load against the default local stack (`npm run dev`: embedded Postgres,
 * s3rver backends), as an operator trying it out would make: every 20 ms, whatever the answers so far, a new
 * client writes a small object (1-16 KiB) and reads it back, for 15 s (750 PUT+GET), with cron runs meanwhile.
 * Prints how many round trips succeeded, the errors by code, wrong bytes and latencies. The SDK does not retry, so
 * every failure the server gives is counted. Exits 0 whatever the figures, 1 when something could not be measured.
 * DATABASE_URL is passed on (to measure against another Postgres); BENCH_DEV_LOG=<file> keeps the stack's output.
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { startDev, stopDev } from './lib/dev-process.ts';
import { freePort } from './lib/ports.ts';

const RATE_PER_SECOND = 50;
const DURATION_MS = 15_000;
const START_TIMEOUT_MS = 180_000;

const dataDir = mkdtempSync(join(tmpdir(), 's3o-bench-dev-'));
let child: ChildProcess | undefined;

type Outcome = { ok: true; ms: number } | { ok: false; failure: string };

async function roundTrip(port: number, i: number): Promise<Outcome> {
  // A client of its own per round trip: open-loop load does not share connections the way one busy client would.
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'local-access-key', secretAccessKey: 'local-secret-key-change-me' },
  });
  const body = randomBytes(1024 * (1 + (i % 16)));
  const key = `bench-dev/${i}`;
  const started = performance.now();
  try {
    await client.send(new PutObjectCommand({ Bucket: 'local-bucket', Key: key, Body: body }));
  } catch (err) {
    return { ok: false, failure: `PUT ${describe(err)}` };
  }
  try {
    const got = await client.send(new GetObjectCommand({ Bucket: 'local-bucket', Key: key }));
    const bytes = await got.Body?.transformToByteArray();
    const digest = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    if (!bytes || digest(bytes) !== digest(body)) return { ok: false, failure: 'GET wrong bytes' };
  } catch (err) {
    return { ok: false, failure: `GET ${describe(err)}` };
  } finally {
    client.destroy();
  }
  return { ok: true, ms: performance.now() - started };
}

function describe(err: unknown): string {
  if (err instanceof S3ServiceException) return `${err.$metadata.httpStatusCode ?? '?'} ${err.name}`;
  return err instanceof Error ? `no answer (${err.name})` : 'no answer';
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;

async function main(): Promise<void> {
  const port = await freePort();
  console.log(`[bench-dev] starting npm run dev on 127.0.0.1:${port} (${process.env.DATABASE_URL ? 'database from DATABASE_URL' : 'embedded defaults'})`);
  child = (await startDev({ port, env: { S3O_DATA_DIR: dataDir }, log: process.env.BENCH_DEV_LOG, timeoutMs: START_TIMEOUT_MS })).child;
  const total = (RATE_PER_SECOND * DURATION_MS) / 1000;
  const started = performance.now();
  const trips: Promise<Outcome>[] = [];
  const crons: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / RATE_PER_SECOND;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    trips.push(roundTrip(port, i));
    if (i % RATE_PER_SECOND === 0) {
      crons.push(fetch(`http://127.0.0.1:${port}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.text()).catch(() => undefined));
    }
  }
  const outcomes = await Promise.all(trips);
  await Promise.all(crons);
  const seconds = (performance.now() - started) / 1000;
  const latencies = outcomes.flatMap((o) => (o.ok ? [o.ms] : [])).sort((a, b) => a - b);
  const failures = new Map<string, number>();
  for (const o of outcomes) if (!o.ok) failures.set(o.failure, (failures.get(o.failure) ?? 0) + 1);
  console.log(`open-loop load on npm run dev: ${RATE_PER_SECOND} PUT+GET/s for ${DURATION_MS / 1000} s (1-16 KiB, a cron run every second)`);
  console.log(`  round trips ok    ${latencies.length} of ${total}  (all answered in ${seconds.toFixed(1)} s)`);
  console.log(`  failures          ${failures.size === 0 ? 'none' : [...failures].map(([what, n]) => `${n} × ${what}`).join(', ')}`);
  console.log(`  PUT+GET latency   p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms`);
}

try {
  await main();
} catch (err) {
  console.error(`[bench-dev] could not measure: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  // Bounded: a launcher that ignores SIGTERM is killed after 30 s.
  if (child) await Promise.race([stopDev(child), new Promise((r) => setTimeout(r, 30_000))]);
  child?.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
}
