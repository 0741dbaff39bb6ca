/** Typed readers over an untrusted parsed document that record problems with their path instead of throwing. */

export interface ConfigProblem {
  path: string;
  message: string;
}

export type ProblemList = ConfigProblem[];

export function report(problems: ProblemList, path: string, message: string): void {
  problems.push({ path, message });
}

export type Doc = Record<string, unknown>;

export function isDoc(value: unknown): value is Doc {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

/** Reports keys the section does not know, so a typo never silently falls back to a default. */
export function rejectUnknownKeys(doc: Doc, known: readonly string[], path: string, problems: ProblemList): void {
  for (const key of Object.keys(doc)) {
    if (!known.includes(key)) report(problems, join(path, key), `unknown key (expected one of: ${known.join(', ')})`);
  }
}

export function readString(
  doc: Doc,
  key: string,
  path: string,
  problems: ProblemList,
  opts: { required?: boolean; fallback?: string } = {},
): string {
  const value = doc[key];
  if (value === undefined || value === null || value === '') {
    if (opts.required) report(problems, join(path, key), 'is required');
    return opts.fallback ?? '';
  }
  if (typeof value !== 'string') {
    report(problems, join(path, key), `must be a string, got ${describe(value)}`);
    return opts.fallback ?? '';
  }
  return value;
}

export function readBoolean(doc: Doc, key: string, path: string, problems: ProblemList, fallback: boolean): boolean {
  const value = doc[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    report(problems, join(path, key), `must be true or false, got ${describe(value)}`);
    return fallback;
  }
  return value;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** A non-negative whole number; sizes may also be written with a unit ("10GiB", "500 MB"). */
export function readCount(
  doc: Doc,
  key: string,
  path: string,
  problems: ProblemList,
  opts: { fallback: number; units?: 'bytes'; min?: number },
): number {
  const value = doc[key];
  if (value === undefined || value === null) return opts.fallback;
  let parsed: number | undefined;
  if (typeof value === 'number') parsed = value;
  else if (typeof value === 'string' && opts.units === 'bytes') parsed = parseSize(value);
  const min = opts.min ?? 0;
  if (parsed === undefined || !Number.isSafeInteger(parsed) || parsed < min) {
    const what = opts.units === 'bytes' ? 'a byte count (e.g. 1073741824 or "1GiB")' : 'a whole number';
    report(problems, join(path, key), `must be ${what} >= ${min}, got ${describe(value)}`);
    return opts.fallback;
  }
  return parsed;
}

export function parseSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!match) return undefined;
  const unit = SIZE_UNITS[(match[2] ?? '').toLowerCase() || 'b'];
  if (unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

export function readEnum<T extends string>(
  doc: Doc,
  key: string,
  path: string,
  problems: ProblemList,
  allowed: readonly T[],
  fallback: T,
): T {
  const value = doc[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  report(problems, join(path, key), `must be one of ${allowed.join(', ')}, got ${describe(value)}`);
  return fallback;
}

export function readList(doc: Doc, key: string, path: string, problems: ProblemList, required: boolean): unknown[] {
  const value = doc[key];
  if (value === undefined || value === null) {
    if (required) report(problems, join(path, key), 'is required (a list with at least one entry)');
    return [];
  }
  if (!Array.isArray(value)) {
    report(problems, join(path, key), `must be a list, got ${describe(value)}`);
    return [];
  }
  if (required && value.length === 0) report(problems, join(path, key), 'must have at least one entry');
  return value;
}

export function readSection(doc: Doc, key: string, path: string, problems: ProblemList): Doc {
  const value = doc[key];
  if (value === undefined || value === null) return {};
  if (!isDoc(value)) {
    report(problems, join(path, key), `must be a mapping, got ${describe(value)}`);
    return {};
  }
  return value;
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration as "30s", "5m", "1h", "500ms" or "1d" (or a number of seconds), in milliseconds. */
export function readDuration(
  doc: Doc,
  key: string,
  path: string,
  problems: ProblemList,
  opts: { fallbackMs: number; minMs?: number },
): number {
  const value = doc[key];
  if (value === undefined || value === null) return opts.fallbackMs;
  let ms: number | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) ms = value * 1000;
  else if (typeof value === 'string') {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(value);
    if (match) ms = Number(match[1]) * (DURATION_UNITS[match[2] ?? 's'] ?? 1000);
  }
  const min = opts.minMs ?? 0;
  if (ms === undefined || ms < min) {
    report(problems, join(path, key), `must be a duration such as "30s", "5m" or "1h"${min > 0 ? ` of at least ${min / 1000} s` : ''}, got ${describe(value)}`);
    return opts.fallbackMs;
  }
  return Math.round(ms);
}
