/** Durations as operators type them: a whole number with an optional unit (`90s`, `15m`, `1h`, `2d`; bare = seconds). */

const DURATION = /^(\d{1,9})(s|m|h|d)?$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** The duration in seconds, or undefined when `text` is not one. */
export function durationSeconds(text: string): number | undefined {
  const m = DURATION.exec(text);
  return m ? Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] ?? 1) : undefined;
}
