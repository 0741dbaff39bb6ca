/**
 * Edge cache purges (schema: cachePurges). A cached entry's key carries the generation of the newest purge that
 * covers its object, read with the object's record in the same statement; a purge adds a newer generation, so
 * every entry it covers is unreachable at once, in every data center, and ages out of the caches on its own.
 */
import { and, desc, eq, lt, type SQL, sql } from 'drizzle-orm';
import type { Queryable } from './db.ts';
import { cachePurges } from './schema.ts';

/** What a purge covers: one bucket ('' every bucket) and the keys that start with `prefix` ('' every key). */
export interface CacheScope {
  bucket: string;
  prefix: string;
}

/** The generation of the newest purge covering the object at (`bucket`, `key`), as text; '0' when none does. */
export function cacheGenerationOf(bucket: SQL | string, key: SQL | string): SQL<string> {
  return sql<string>`(select coalesce(max(${cachePurges.generation}), 0)::text from ${cachePurges} where ${cachePurges.bucket} in ('', ${bucket}) and starts_with(${key}, ${cachePurges.prefix}))`;
}

/** Records a purge and returns its generation. */
export async function recordCachePurge(db: Queryable, scope: CacheScope): Promise<number> {
  const [added] = await db.insert(cachePurges).values(scope).returning({ generation: cachePurges.generation });
  if (!added) throw new Error('the cache purge was not recorded');
  // Older purges this one covers can no longer decide any entry's generation; dropping them is only housekeeping.
  await db
    .delete(cachePurges)
    .where(
      and(
        lt(cachePurges.generation, added.generation),
        scope.bucket === '' ? undefined : eq(cachePurges.bucket, scope.bucket),
        sql`starts_with(${cachePurges.prefix}, ${scope.prefix})`,
      ),
    );
  return added.generation;
}

/** The newest purges, newest first. */
export async function recentCachePurges(db: Queryable, limit: number): Promise<{ generation: number; bucket: string; prefix: string; purgedAt: Date }[]> {
  return db.select().from(cachePurges).orderBy(desc(cachePurges.generation)).limit(limit);
}
