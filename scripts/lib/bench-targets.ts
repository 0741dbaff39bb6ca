/**
 * Targets the benches measure, gathered into one table. Each bench script records its rows in `.bench/<name>.json`
 * at the repository's root (replacing what it recorded before); `scripts/bench-summary.ts`, the last step of
 * `npm run bench`, prints them all with the time each was measured, so a row left from an older run shows as such.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.bench');

export interface TargetRow {
  measurement: string;
  orchestrator: string;
  /** What the orchestrator is measured against (the bare proxy, a plain copy, plaintext), as a figure. */
  yardstick: string;
  ratio: string;
  target: string;
  result: 'PASS' | 'MISS';
}

interface Recorded {
  bench: string;
  measuredAt: string;
  rows: TargetRow[];
}

/** A row whose figure must be at least `min` times the yardstick's. */
export function ratioRow(measurement: string, orchestrator: number, yardstick: number, min: number, against: string, unit = ''): TargetRow {
  const ratio = orchestrator / yardstick;
  return {
    measurement,
    orchestrator: `${orchestrator.toFixed(1)}${unit}`,
    yardstick: `${yardstick.toFixed(1)}${unit}`,
    ratio: `${ratio.toFixed(2)}x`,
    target: `>= ${min}x ${against}`,
    result: ratio >= min ? 'PASS' : 'MISS',
  };
}

export function recordTargets(bench: string, rows: readonly TargetRow[]): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const recorded: Recorded = { bench, measuredAt: new Date().toISOString(), rows: [...rows] };
  writeFileSync(join(RESULTS_DIR, `${bench}.json`), `${JSON.stringify(recorded, null, 2)}\n`);
}

export function recordedTargets(): Recorded[] {
  let names: string[];
  try {
    names = readdirSync(RESULTS_DIR).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  return names.sort().map((n) => JSON.parse(readFileSync(join(RESULTS_DIR, n), 'utf8')) as Recorded);
}

/** A plain-text table: a header line, a rule, then the rows; columns padded, `rightAligned` ones to the right. */
export function table(headers: string[], body: string[][], rightAligned: boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (rightAligned[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
