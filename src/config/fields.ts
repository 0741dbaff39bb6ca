/**
 * The kinds of value a configuration key holds (a count, a size, a duration, a name...), each a valibot schema
 * whose messages say what was expected and quote what was found. A default is written the way an operator writes
 * it ("30s", "5GiB") and goes through the same parser, so the documentation shows it as written.
 */
import * as v from 'valibot';

export interface ConfigProblem {
  path: string;
  message: string;
}

/** A value kind: its schema, plus what the documentation and change reports need to know about it. */
export interface Field<S extends v.GenericSchema = v.GenericSchema> {
  readonly schema: S;
  /** The default as written in a document; absent when there is none. */
  readonly default?: string | number | boolean | readonly string[];
  /** The message when the key is missing; absent when it may be. */
  readonly required?: string;
  /** How a value is shown in a change report (`config diff`); by default as written. */
  show?(value: unknown): string;
}

type Message = (issue: v.BaseIssue<unknown>) => string;

/** A value as a message quotes it: long strings cut (expand.ts hides any part of a secret that remains). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

const got = (expected: string): Message => (issue) => `${expected}, got ${describe(issue.input)}`;
const REQUIRED = 'is required';

/** A rule a string must follow: the problem with `value`, or undefined when there is none. */
export type Check = (value: string) => string | undefined;

function checked(check: Check | undefined) {
  return v.rawCheck<string>(({ dataset, addIssue }) => {
    const problem = dataset.typed ? check?.(dataset.value) : undefined;
    if (problem) addIssue({ message: problem });
  });
}

/** A string that must be present (null and "" count as missing) and pass `check`; `tidy` then normalizes it. */
export function text(check?: Check, tidy: (value: string) => string = (value) => value) {
  const message: Message = (issue) => (issue.input === null || issue.input === undefined ? REQUIRED : got('must be a string')(issue));
  return { schema: v.pipe(v.string(message), v.nonEmpty(REQUIRED), checked(check), v.transform(tidy)), required: REQUIRED } satisfies Field;
}

/** A string that may be left out ("" counts as left out): then `fallback`, or undefined without one. */
export function optionalText<const D extends string | undefined>(fallback: D, check?: Check) {
  const present = v.nullish(v.pipe(v.string(got('must be a string')), checked(check)), fallback);
  const schema = v.nullish(v.pipe(v.unknown(), v.transform((value) => (value === '' ? undefined : value)), present), fallback);
  return { schema, ...(fallback === undefined ? {} : { default: fallback }) } satisfies Field;
}

export function flag(fallback: boolean) {
  return { schema: v.nullish(v.boolean(got('must be true or false')), fallback), default: fallback } satisfies Field;
}

export function choice<const T extends string>(options: readonly [T, ...T[]], fallback: T) {
  return { schema: v.nullish(v.picklist(options, got(`must be one of ${options.join(', ')}`)), fallback), default: fallback } satisfies Field;
}

/** A whole number of at least `min` (and at most `max`, with its own message when it has one). */
export function count<const D extends number | undefined>(fallback: D, min: number, max?: { value: number; why?: string }) {
  const message = got(`must be a whole number >= ${min}`);
  const most = max?.value ?? Number.MAX_SAFE_INTEGER;
  const tooMany: Message = (issue) => `must be at most ${most}${max?.why ? ` (${max.why})` : ''}, got ${describe(issue.input)}`;
  const schema = v.nullish(v.pipe(v.number(message), v.safeInteger(message), v.minValue(min, message), v.maxValue(most, tooMany)), fallback);
  return { schema, ...(fallback === undefined ? {} : { default: fallback }) } satisfies Field;
}

/** A number strictly between 0 and 1. */
export function fraction(fallback: number) {
  const message: Message = (issue) => `must be a number between 0 and 1 (exclusive), got ${JSON.stringify(issue.input)}`;
  return { schema: v.nullish(v.pipe(v.number(message), v.gtValue(0, message), v.ltValue(1, message)), fallback), default: fallback } satisfies Field;
}

/** A value read by `parse` (undefined: refused with `expected`). */
function parsed<T>(parse: (value: unknown) => T | undefined, expected: string) {
  return v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const value = parse(dataset.value);
      if (value !== undefined) return value;
      addIssue({ message: `${expected}, got ${describe(dataset.value)}` });
      return NEVER;
    }),
  );
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** "10GiB", "500 MB" or "1024" in bytes; undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[(match[2] ?? '').toLowerCase() || 'b'];
  if (unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** A byte count of at least `min`, as a number or with a unit ("10GiB", "500 MB"). */
export function size(fallback: number | string, min = 0) {
  const read = (value: unknown) => {
    const bytes = typeof value === 'number' ? value : typeof value === 'string' ? parseSize(value) : undefined;
    return bytes !== undefined && Number.isSafeInteger(bytes) && bytes >= min ? bytes : undefined;
  };
  return { schema: v.nullish(parsed(read, `must be a byte count (e.g. 1073741824 or "1GiB") >= ${min}`), fallback), default: fallback } satisfies Field;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration ("30s", "5m", "1h", "500ms", "1d", or a number of seconds) of at least `min`, in milliseconds. */
export function duration<const D extends string | undefined>(fallback: D, min: string) {
  const minMs = readDuration(min) ?? 0;
  const read = (value: unknown) => {
    const ms = readDuration(value);
    return ms !== undefined && ms >= minMs ? Math.round(ms) : undefined;
  };
  const expected = `must be a duration such as "30s", "5m" or "1h"${minMs > 0 ? ` of at least ${minMs / 1000} s` : ''}`;
  const schema = v.nullish(parsed(read, expected), fallback);
  return { schema, ...(fallback === undefined ? {} : { default: fallback }), show: (ms: unknown) => `${Number(ms) / 1000}s` } satisfies Field;
}

function readDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
  return match ? Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1000) : undefined;
}

/**
 * A list of strings each passing `accept` (else `refused(value)` at the entry's path). Left out, it is
 * `fallback`; written, it must have an entry unless `fallback` is empty.
 */
export function stringList(fallback: readonly string[], accept: (value: string) => boolean, refused: (value: unknown) => string) {
  const entry = v.pipe(
    v.unknown(),
    v.check((value) => typeof value === 'string' && accept(value), (issue) => refused(issue.input)),
    v.transform((value) => String(value)),
  );
  const least = fallback.length > 0 ? 1 : 0;
  return { schema: v.nullish(v.pipe(v.array(entry, got('must be a list')), v.minLength(least, 'must have at least one entry')), [...fallback]), default: fallback } satisfies Field;
}
