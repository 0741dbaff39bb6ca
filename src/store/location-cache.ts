/**
 * Each isolate remembers the records of objects it recently read, so that while Postgres is unreachable reads can
 * still go to the backends (degraded mode). Bounded: at most MAX_ENTRIES records, each trusted for TTL_MS; writes
 * and deletes in this isolate forget the key. A record another isolate changed meanwhile may be stale for up to
 * TTL_MS: its old copy is then either still there (served) or already deleted (the read fails with 503).
 * The isolate's one instance lives in src/runtime/isolate.ts.
 */
import type { StoredObject } from './objects.ts';

export const MAX_ENTRIES = 10_000;
export const TTL_MS = 10 * 60_000;

export interface LocationCache {
  remember(object: StoredObject, now: number): void;
  forget(bucket: string, key: string): void;
  /** The remembered record, unless it is older than TTL_MS. */
  get(bucket: string, key: string, now: number): StoredObject | undefined;
}

export function createLocationCache(): LocationCache {
  const entries = new Map<string, { object: StoredObject; at: number }>();
  const id = (bucket: string, key: string) => `${bucket}\n${key}`;
  return {
    remember(object, now) {
      const k = id(object.bucket, object.key);
      entries.delete(k);
      entries.set(k, { object, at: now });
      // A Map iterates in insertion order: the first entry is the least recently remembered.
      while (entries.size > MAX_ENTRIES) {
        const oldest = entries.keys().next().value;
        if (oldest === undefined) break;
        entries.delete(oldest);
      }
    },
    forget(bucket, key) {
      entries.delete(id(bucket, key));
    },
    get(bucket, key, now) {
      const entry = entries.get(id(bucket, key));
      if (!entry) return undefined;
      if (now - entry.at > TTL_MS) {
        entries.delete(id(bucket, key));
        return undefined;
      }
      return entry.object;
    },
  };
}
