/** The queries a drain runs: which copies are left, and the two ways a copy leaves (dropped, or moved by CAS). */
import { and, asc, eq, gt, ne, or, sql } from 'drizzle-orm';
import type { Db, Queryable } from './db.ts';
import { lockKey } from './objects.ts';
import { takeCleanupItem } from './cleanup.ts';
import { type QuotaChange, applyQuotaChanges, releaseBytes } from './quotas.ts';
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

/**
 * Drops the backend's copy of an object that still has another copy (checked again under the key's lock).
 * Returns false, changing nothing, when the copy is gone or has become the only one.
 */
export async function dropRedundantCopy(db: Db, copy: Pick<ObjectLocationRow, 'bucket' | 'key' | 'backendName' | 'physicalKey'>): Promise<boolean> {
  return db.transaction(async (tx) => {
    await lockKey(tx, copy.bucket, copy.key);
    const [other] = await tx
      .select({ name: objectLocations.backendName })
      .from(objectLocations)
      .where(and(eq(objectLocations.bucket, copy.bucket), eq(objectLocations.key, copy.key), ne(objectLocations.backendName, copy.backendName)))
      .limit(1);
    if (!other) return false;
    const removed = await tx
      .delete(objectLocations)
      .where(isThisCopy(copy))
      .returning({ size: objectLocations.storedSize });
    for (const row of removed) await releaseBytes(tx, copy.backendName, row.size);
    return removed.length > 0;
  });
}

/** 'target-holds-it': the target already has this very copy (same physical key); its bytes are live. */
/** The row of exactly this copy: same object, backend and physical key (a rewrite has another physical key). */
function isThisCopy(copy: Pick<ObjectLocationRow, 'bucket' | 'key' | 'backendName' | 'physicalKey'>) {
  return and(
    eq(objectLocations.bucket, copy.bucket),
    eq(objectLocations.key, copy.key),
    eq(objectLocations.backendName, copy.backendName),
    eq(objectLocations.physicalKey, copy.physicalKey),
  );
}

export type MoveOutcome = 'moved' | 'gone' | 'no-room' | 'target-holds-it';

/**
 * Compare-and-swap of one copy from `from` to `to` after its bytes were copied there: only if the source copy
 * is still the same (not overwritten, deleted or moved meanwhile) and the target can take it. On anything but
 * 'moved' nothing changes and the caller removes the bytes it copied. `queuedAhead`: the cleanup item that held
 * the copied bytes until they were recorded, dropped in the same transaction.
 */
export async function moveCopy(
  db: Db,
  copy: Pick<ObjectLocationRow, 'bucket' | 'key' | 'backendName' | 'physicalKey' | 'storedSize' | 'encryption'>,
  to: string,
  opts: { queuedAhead?: number } = {},
): Promise<MoveOutcome> {
  return db.transaction(async (tx) => {
    await lockKey(tx, copy.bucket, copy.key);
    const [target] = await tx
      .select({ physicalKey: objectLocations.physicalKey })
      .from(objectLocations)
      .where(and(eq(objectLocations.bucket, copy.bucket), eq(objectLocations.key, copy.key), eq(objectLocations.backendName, to)));
    if (target) return target.physicalKey === copy.physicalKey ? 'target-holds-it' : 'gone';
    const removed = await tx
      .delete(objectLocations)
      .where(isThisCopy(copy))
      .returning({ createdAt: objectLocations.createdAt });
    if (removed.length === 0) return 'gone';
    // The copied bytes become live: their queued-ahead delete goes, and its orphaned bytes make room for them.
    const queued = opts.queuedAhead === undefined ? undefined : await takeCleanupItem(tx, opts.queuedAhead);
    const targetChange: QuotaChange = { backendName: to, reserve: copy.storedSize };
    if (queued) targetChange.releaseOrphan = queued.size;
    if (!(await applyQuotaChanges(tx, [{ backendName: copy.backendName, release: copy.storedSize }, targetChange]))) {
      // Rolls back the delete above.
      throw new NoRoomError();
    }
    await tx.insert(objectLocations).values({
      bucket: copy.bucket,
      key: copy.key,
      backendName: to,
      physicalKey: copy.physicalKey,
      storedSize: copy.storedSize,
      encryption: copy.encryption,
      // The copy keeps its age, so read order (oldest copy first) does not change with a move.
      createdAt: removed[0]?.createdAt ?? sql`now()`,
    });
    return 'moved';
  }).catch((err: unknown) => {
    if (err instanceof NoRoomError) return 'no-room' as const;
    throw err;
  });
}

class NoRoomError extends Error {}

/** Multipart uploads in progress on a backend (a drain aborts them first). */
export async function uploadsOn(db: Queryable, backendName: string) {
  return db
    .select({ uploadId: multipartUploads.uploadId, physicalKey: multipartUploads.physicalKey, backendUploadId: multipartUploads.backendUploadId })
    .from(multipartUploads)
    .where(eq(multipartUploads.backendName, backendName));
}
