/**
 * Each isolate remembers the records of objects it recently read, so that while Postgres is unreachable reads can
 * still go to the backends (degraded mode). Bounded: at most MAX_ENTRIES records, each trusted for TTL_MS; writes
 * and deletes in this isolate forget the key. A record another isolate changed meanwhile may be stale for up to
 * TTL_MS: its old copy is then either still there (served) or already deleted (the read fails with 503).
 */
import type { StoredObject } from '../store/objects.ts';

export const MAX_ENTRIES = 10_000;
export const TTL_MS = 10 * 60_000;

const entries = new Map<string, { object: StoredObject; at: number }>();
const id = (bucket: string, key: string) => `${bucket}\n${key}`;

export function rememberObject(object: StoredObject, now: number): void {
  const k = id(object.bucket, object.key);
  entries.delete(k);
  entries.set(k, { object, at: now });
  // A Map iterates in insertion order: the first entry is the least recently remembered.
  while (entries.size > MAX_ENTRIES) {
    const oldest = entries.keys().next().value;
    if (oldest === undefined) break;
    entries.delete(oldest);
  }
}

export function forgetObject(bucket: string, key: string): void {
  entries.delete(id(bucket, key));
}

export function cachedObject(bucket: string, key: string, now: number): StoredObject | undefined {
  const entry = entries.get(id(bucket, key));
  if (!entry) return undefined;
  if (now - entry.at > TTL_MS) {
    entries.delete(id(bucket, key));
    return undefined;
  }
  return entry.object;
}
