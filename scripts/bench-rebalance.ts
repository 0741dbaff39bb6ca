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
import { listBucketKeys, plainCopy, runBench, throughputRow } from './lib/bench-run.ts';
import { OBJECT_MIX, printMoveCpu, startMoveBench } from './lib/bench-moves.ts';
import { ratioRow, recordTargets } from './lib/bench-targets.ts';

const CONCURRENCY = 2;
const QUOTA = 1024 ** 3;
const TIME_LIMIT_MS = 15 * 60_000;
/** Issue 18: a pass at 0.8x the objects/s of a plain backend-to-backend copy or better. */
const GOAL = 0.8;

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
  const bench = await startMoveBench({
    name: 'rebalance',
    dir,
    stops,
    log,
    backend: { quota_bytes: QUOTA },
    sections: { rebalance: { strategy: 'spread', batch_size: 10_000, concurrency: CONCURRENCY, threshold: 0.01 } },
  });
  const { aws, rgw } = bench;

  log('one spread pass through the orchestrator (admin rebalance --execute)');
  const admin = async (path: string): Promise<PassAnswer> => {
    const response = await bench.admin('POST', path);
    if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
    return (await response.json()) as PassAnswer;
  };
  const totals = { moved: 0, failed: 0, bytes: 0 };
  const passStart = performance.now();
  const pass = await bench.cpuDuring(async () => {
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
  });
  const passSeconds = (performance.now() - passStart) / 1000;

  const moved = await listBucketKeys(aws, rgw.endpoint, 'rebalance-b');
  log(`plain copy: the ${moved.length} moved objects from rebalance-b to plain-copy, ${CONCURRENCY} at a time`);
  const plain = await bench.cpuDuring(() => plainCopy(aws, rgw.endpoint, 'rebalance-b', 'plain-copy', moved, CONCURRENCY));
  const plainSeconds = plain.result;

  console.log('');
  console.log(`rebalance throughput: ${totals.moved} of ${bench.objects} objects moved (${OBJECT_MIX} written), radosgw to radosgw, concurrency ${CONCURRENCY}`);
  console.log(throughputRow('plain backend-to-backend copy', plainSeconds, moved.length, totals.bytes));
  console.log(throughputRow('orchestrator rebalance pass', passSeconds, totals.moved, totals.bytes));
  console.log(`rebalance / plain copy: ${(plainSeconds / passSeconds).toFixed(2)}x the objects/s (goal ${GOAL}x); failures: ${totals.failed}`);
  printMoveCpu(['plain copy', 'rebalance pass'], [plain.cpu, pass.cpu], [moved.length, totals.moved]);
  recordTargets('4-rebalance', [
    ratioRow(`rebalance pass, ${totals.moved} objects moved, obj/s`, totals.moved / passSeconds, moved.length / plainSeconds, GOAL, 'plain copy'),
    { measurement: 'rebalance failures', orchestrator: String(totals.failed), yardstick: '', ratio: '', target: '0', result: totals.failed === 0 ? 'PASS' : 'MISS' },
  ]);
}

runBench('bench-rebalance', dir, stops, main);
