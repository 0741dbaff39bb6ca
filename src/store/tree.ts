/**
 * The object browser's view of a bucket: what lies directly under a prefix, one entry per object and one per
 * directory (every key sharing the part of its name up to the next '/'), the two paged together in byte order.
 *
 * A key's entry name is a prefix of its rest (the key after the browsed prefix), so entry names never go down as
 * keys go up: walking the key index and jumping past each directory visits the entries in order, one index probe
 * each, however many keys a directory holds. A directory's totals are then one range scan of its own keys. Ranges,
 * never LIKE: '%' and '_' are ordinary key bytes.
 */
import { type SQL, inArray, sql } from 'drizzle-orm';
import type { Queryable } from './db.ts';
import { objects } from './schema.ts';

export interface TreeEntry {
  /** Relative to the prefix; a directory's ends in '/'. */
  name: string;
  kind: 'dir' | 'object';
  /** Keys under a directory, 1 for an object. */
  objects: number;
  /** Their client bytes. */
  bytes: number;
  /** The newest of their writes. */
  lastModified: Date;
  /** An object's own ETag; null for a directory. */
  etag: string | null;
}

export interface TreeQuery {
  bucket: string;
  prefix: string;
  /** Exclusive: an entry name a previous page ended with ('' for the first page). */
  after: string;
  limit: number;
}

/**
 * The smallest key after every key an entry stands for: past a directory `d/` is `d0` ('0' follows '/'); past an
 * object `k` is `k` + U+0001 (text holds no NUL, so nothing sorts between). `''` gives U+0001: past the prefix's
 * own key, which is not an entry of its own listing.
 */
export function keyAfterEntry(name: string): string {
  return name.endsWith('/') ? `${name.slice(0, -1)}0` : `${name}\u0001`;
}

/** Up to `limit` entries after `after`, in byte order, and whether more follow. */
export async function treePage(db: Queryable, query: TreeQuery): Promise<{ entries: TreeEntry[]; more: boolean }> {
  const { bucket, prefix } = query;
  const rows = await db
    .select({
      name: sql<string>`page.name`,
      objects: sql<string>`page.objects`,
      bytes: sql<string>`page.bytes`,
      lastModified: sql`page.last_modified`.mapWith(objects.createdAt),
      etag: sql<string | null>`page.etag`,
    })
    .from(
      sql`(
        with recursive walk(key, n) as (
          select (${firstKeyFrom(bucket, sql`${prefix + keyAfterEntry(query.after)}::text`)}), 1
          union all
          select (${firstKeyFrom(bucket, sql`${prefix}::text || ${keyAfterName(entryName(sql`walk.key`, prefix))}`)}), walk.n + 1
          from walk where starts_with(walk.key, ${prefix}::text) and walk.n <= ${query.limit}
        ),
        named as (select ${entryName(sql`walk.key`, prefix)} as name from walk where starts_with(walk.key, ${prefix}::text))
        select named.name, totals.*
        from named cross join lateral (
          select count(*)::text as objects, coalesce(sum(o.size), 0)::text as bytes, max(o.created_at) as last_modified,
                 case when right(named.name, 1) = '/' then null else min(o.etag) end as etag
          from ${objects} o
          where o.bucket = ${bucket} and o.key >= ${prefix}::text || named.name and o.key < ${prefix}::text || ${keyAfterName(sql`named.name`)}
        ) totals
      ) as page`,
    )
    .orderBy(sql`page.name collate "C"`);
  const entries = rows.map((r): TreeEntry => ({
    name: r.name,
    kind: r.name.endsWith('/') ? 'dir' : 'object',
    objects: Number(r.objects),
    bytes: Number(r.bytes),
    lastModified: r.lastModified,
    etag: r.etag,
  }));
  return { entries: entries.slice(0, query.limit), more: entries.length > query.limit };
}

/** The bucket's first key at or after `from` (null past the last): one probe of the primary key's index. */
function firstKeyFrom(bucket: string, from: SQL): SQL {
  return sql`select o.key from ${objects} o where o.bucket = ${bucket} and o.key >= ${from} collate "C" order by o.key limit 1`;
}

/** A key's entry name: its rest after the prefix, up to and including the next '/'. */
function entryName(key: SQL, prefix: string): SQL {
  const rest = sql`substr(${key}, char_length(${prefix}::text) + 1)`;
  return sql`(case when strpos(${rest}, '/') > 0 then left(${rest}, strpos(${rest}, '/')) else ${rest} end)`;
}

/** keyAfterEntry, in SQL. */
function keyAfterName(name: SQL): SQL {
  return sql`(case when right(${name}, 1) = '/' then left(${name}, -1) || '0' else ${name} || chr(1) end)`;
}

export interface BucketTotals {
  bucket: string;
  objects: number;
  bytes: number;
}

/** Objects and client bytes of each bucket named (a bucket with no object is left out). */
export async function bucketTotals(db: Queryable, buckets: readonly string[]): Promise<BucketTotals[]> {
  if (buckets.length === 0) return [];
  const rows = await db
    .select({ bucket: objects.bucket, objects: sql<string>`count(*)::text`, bytes: sql<string>`coalesce(sum(${objects.size}), 0)::text` })
    .from(objects)
    .where(inArray(objects.bucket, [...buckets]))
    .groupBy(objects.bucket);
  return rows.map((r) => ({ bucket: r.bucket, objects: Number(r.objects), bytes: Number(r.bytes) }));
}
