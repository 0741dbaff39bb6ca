/** Reading a /metrics rendering in tests: the values of named sample lines (shared by unit and integration tests). */

/** The value of each series (e.g. `s3o_requests_total{method="GET",status_code="200"}`), 0 when it has no line. */
export function samplesOf(text: string, series: readonly string[]): Record<string, number> {
  const lines = text.split('\n');
  return Object.fromEntries(
    series.map((name) => {
      const line = lines.find((l) => l.startsWith(`${name} `));
      return [name, line === undefined ? 0 : Number(line.slice(name.length + 1))];
    }),
  );
}

/** Expected values by series, checked all at once (a mismatch shows every series side by side). */
export function expectedSamples(text: string, expected: Record<string, number>): { actual: Record<string, number>; expected: Record<string, number> } {
  return { actual: samplesOf(text, Object.keys(expected)), expected };
}
