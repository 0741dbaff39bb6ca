/**
 * `npm run bench` (last part): every bench's targets in one table, as each recorded them (scripts/lib/bench-targets.ts),
 * with the time each bench ran. Run alone, it prints what the last runs recorded.
 */
import { recordedTargets, table } from './lib/bench-targets.ts';

const recorded = recordedTargets();
if (recorded.length === 0) {
  console.log('bench-summary: no bench has recorded targets yet (run npm run bench)');
} else {
  console.log('\n== Targets of every bench (issue 18 and the encryption goals); each measured in its own run, at the time shown');
  console.log(
    table(
      ['Bench', 'Measured at (UTC)', 'Measurement', 'Orchestrator', 'Against', 'Ratio', 'Target', 'Result'],
      recorded.flatMap((r) => r.rows.map((row) => [r.bench.replace(/^\d+-/, ''), r.measuredAt.slice(0, 19).replace('T', ' '), row.measurement, row.orchestrator, row.yardstick, row.ratio, row.target, row.result])),
      [false, false, false, true, true, true, false, false],
    ),
  );
  const missed = recorded.flatMap((r) => r.rows).filter((row) => row.result === 'MISS').length;
  console.log(`${missed === 0 ? 'every target met' : `${missed} target(s) missed`}; figures on a shared 2-core machine move between runs, so compare several.`);
}
