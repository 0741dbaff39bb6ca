/** How the CLI prints: tables and sizes for people, one-line errors on stderr. */

let jsonOutput = false;

/** With --json, errors are JSON too (on stdout, where a script reads), besides the exit code. */
export function setJsonOutput(on: boolean): void {
  jsonOutput = on;
}

export function fail(message: string, code = 1, details: Record<string, unknown> = {}): number {
  if (jsonOutput) console.log(JSON.stringify({ error: message, ...details }));
  else console.error(`s3-orchestrator: ${message}`);
  return code;
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A progress bar line: rewritten in place on a terminal, one line per update otherwise (logs, pipes). */
export function printProgress(share: number, detail: string): void {
  const done = Math.max(0, Math.min(1, share));
  const line = `[${'#'.repeat(Math.round(done * 30)).padEnd(30, '.')}] ${Math.round(done * 100)}% ${detail}`;
  if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
  else console.log(line);
}

/** Ends a progress bar's line on a terminal before other output. */
export function endProgress(): void {
  if (process.stdout.isTTY) process.stdout.write('\n');
}
