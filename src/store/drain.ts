/** The queries a drain runs to find what is left on a backend (the moves themselves are in moves.ts). */
import { and, asc, eq, gt, or, sql } from 'drizzle-orm';
import type { Queryable } from './db.ts';
import { multipartUploads, objectLocations, type ObjectLocationRow } from './schema.ts';

export interface DrainCandidate extends ObjectLocationRow {
  /** Backends holding another copy of the same object. */
  otherBackends: string[];
}

/** For a select of object_locations rows on `backendName`: the backends holding the same object's other copies. */
export function otherBackendsThan(backendName: string) {
  // Qualified by hand: drizzle leaves columns of a single-table select unqualified, which inside this subquery
  // would bind to the subquery's own rows.
  return sql<string[]>`coalesce((
      select array_agg(o.backend_name) from ${objectLocations} o
      where o.bucket = "object_locations"."bucket" and o.key = "object_locations"."key" and o.backend_name <> ${backendName}
    ), '{}')`;
}

/** The next `limit` copies on the backend after `after`, in (bucket, key) order. */
export async function drainCandidates(
  db: Queryable,
  backendName: string,
  after: { bucket: string; key: string } | undefined,
  limit: number,
): Promise<DrainCandidate[]> {
  const others = otherBackendsThan(backendName);
  const position = after
    ? or(gt(objectLocations.bucket, after.bucket), and(eq(objectLocations.bucket, after.bucket), gt(objectLocations.key, after.key)))
    : undefined;
  const rows = await db
    .select({ location: objectLocations, otherBackends: others })
    .from(objectLocations)
    .where(and(eq(objectLocations.backendName, backendName), position))
    .orderBy(asc(objectLocations.bucket), asc(objectLocations.key))
    .limit(limit);
  return rows.map((r) => ({ ...r.location, otherBackends: r.otherBackends }));
}

/** Multipart uploads in progress on a backend (a drain aborts them first). */
export async function uploadsOn(db: Queryable, backendName: string) {
  return db
    .select({ uploadId: multipartUploads.uploadId, physicalKey: multipartUploads.physicalKey, backendUploadId: multipartUploads.backendUploadId })
    .from(multipartUploads)
    .where(eq(multipartUploads.backendName, backendName));
}
