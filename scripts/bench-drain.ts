/**
 * `npm run bench` (second part): drain throughput. The same objects are copied once backend to backend by a plain
 * streaming copy (GET piped into PUT, as many at a time as the drain moves), then drained through the
 * orchestrator (its Durable Object's alarms, CAS record swaps, source deletes). Prints objects/s and MB/s of both
 * (MB = 10^6 bytes) and records the ratio for the targets summary (goal 0.8x). Everything runs on 127.0.0.1
 * (PostgreSQL 15, radosgw, wrangler dev) and is removed after.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DRAIN_CONCURRENCY } from '../src/backend-state/drain-settings.ts';
import { listBucketKeys, plainCopy, runBench, throughputRow } from './lib/bench-run.ts';
import { OBJECT_MIX, printMoveCpu, startMoveBench } from './lib/bench-moves.ts';
import { ratioRow, recordTargets } from './lib/bench-targets.ts';

/** The plain copy moves as many copies at a time as the drain does. */
const CONCURRENCY = DRAIN_CONCURRENCY;
const TIME_LIMIT_MS = 15 * 60_000;
/** Issue 18: a drain at 0.8x the objects/s of a plain backend-to-backend copy or better. */
const GOAL = 0.8;

const dir = mkdtempSync(join(tmpdir(), 's3o-bench-drain-'));
const stops: (() => Promise<void>)[] = [];
const log = (message: string) => console.log(`bench-drain: ${message}`);

async function main(): Promise<void> {
  const bench = await startMoveBench({ name: 'drain', dir, stops, log });
  const { aws, rgw, admin } = bench;

  // The physical keys as the orchestrator stored them on backend a.
  const physical = await listBucketKeys(aws, rgw.endpoint, 'drain-a');
  log(`plain copy: ${physical.length} objects from drain-a to plain-copy, ${CONCURRENCY} at a time`);
  const plain = await bench.cpuDuring(() => plainCopy(aws, rgw.endpoint, 'drain-a', 'plain-copy', physical, CONCURRENCY));
  const plainSeconds = plain.result;

  log('draining backend a through the orchestrator');
  const drainStart = performance.now();
  const drain = await bench.cpuDuring(async () => {
    const started = await admin('POST', '/admin/api/backends/a/drain');
    if (started.status !== 202) throw new Error(`drain did not start: ${started.status} ${await started.text()}`);
    let status: { mode: string; objects_moved: number; bytes_moved: number; failures: number } = { mode: 'draining', objects_moved: 0, bytes_moved: 0, failures: 0 };
    while (status.mode !== 'drained') {
      if (performance.now() - drainStart > TIME_LIMIT_MS) throw new Error('the drain did not finish in time');
      // Polled often: the poll's granularity counts against the drain.
      await new Promise((r) => setTimeout(r, 50));
      status = (await (await admin('GET', '/admin/api/backends/a/drain')).json()) as typeof status;
    }
    return status;
  });
  const status = drain.result;
  const drainSeconds = (performance.now() - drainStart) / 1000;

  console.log('');
  console.log(`drain throughput: ${bench.objects} objects (${OBJECT_MIX}), ${(bench.totalBytes / 1e6).toFixed(1)} MB, radosgw to radosgw`);
  console.log(throughputRow('plain backend-to-backend copy', plainSeconds, physical.length, bench.totalBytes));
  console.log(throughputRow('orchestrator drain', drainSeconds, status.objects_moved, status.bytes_moved));
  const ratio = plainSeconds / drainSeconds;
  console.log(`drain / plain copy: ${ratio.toFixed(2)}x the objects/s (goal ${GOAL}x); drain failures: ${status.failures}`);
  printMoveCpu(['plain copy', 'drain'], [plain.cpu, drain.cpu], [physical.length, status.objects_moved]);
  recordTargets('3-drain', [
    ratioRow(`drain, ${bench.objects} objects (${OBJECT_MIX}), obj/s`, status.objects_moved / drainSeconds, physical.length / plainSeconds, GOAL, 'plain copy'),
    { measurement: 'drain failures', orchestrator: String(status.failures), yardstick: '', ratio: '', target: '0', result: status.failures === 0 ? 'PASS' : 'MISS' },
  ]);
}

runBench('bench-drain', dir, stops, main);
