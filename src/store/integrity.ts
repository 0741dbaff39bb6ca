/**
 * The integrity queries: which copies the scrub checks next, which objects still lack a content digest, recording
 * a digest by compare-and-swap, and dropping a copy whose bytes do not match it.
 */
import { and, asc, eq, gt, isNotNull, isNull, or } from 'drizzle-orm';
import type { Db, Queryable } from './db.ts';
import { type CleanupReason, queueCopyIn } from './cleanup.ts';
import { lockKey } from './objects.ts';
import { releaseBytes } from './quotas.ts';
import { type CopyPosition, type ObjectLocationRow, objectLocations, objectParts, objects } from './schema.ts';

/** What a check of one copy needs from its object's record. */
export interface VersionRecord {
  bucket: string;
  key: string;
  version: string;
  size: number;
  /** Quoted; a plain one is the MD5 of the client's bytes. */
  etag: string;
  contentSha256: string | null;
}

export interface CopyToCheck {
  location: ObjectLocationRow;
  object: VersionRecord;
}

const versionColumns = {
  bucket: objects.bucket,
  key: objects.key,
  version: objects.version,
  size: objects.size,
  etag: objects.etag,
  contentSha256: objects.contentSha256,
};

/** The next `limit` copies after `after` whose object has a digest to check them against. */
export async function copiesToScrub(db: Queryable, after: CopyPosition | undefined, limit: number): Promise<CopyToCheck[]> {
  const position = after
    ? or(
        gt(objectLocations.bucket, after.bucket),
        and(eq(objectLocations.bucket, after.bucket), gt(objectLocations.key, after.key)),
        and(eq(objectLocations.bucket, after.bucket), eq(objectLocations.key, after.key), gt(objectLocations.backendName, after.backendName)),
      )
    : undefined;
  return db
    .select({ location: objectLocations, object: versionColumns })
    .from(objectLocations)
    .innerJoin(objects, and(eq(objects.bucket, objectLocations.bucket), eq(objects.key, objectLocations.key)))
    .where(and(isNotNull(objects.contentSha256), position))
    .orderBy(asc(objectLocations.bucket), asc(objectLocations.key), asc(objectLocations.backendName))
    .limit(limit);
}

/** The next `limit` objects after `after` (key order) with no digest yet, each with its copies, oldest first. */
export async function objectsWithoutDigest(
  db: Queryable,
  after: { bucket: string; key: string } | undefined,
  limit: number,
): Promise<{ object: VersionRecord; locations: ObjectLocationRow[] }[]> {
  const position = after ? or(gt(objects.bucket, after.bucket), and(eq(objects.bucket, after.bucket), gt(objects.key, after.key))) : undefined;
  const page = await db
    .select(versionColumns)
    .from(objects)
    .where(and(isNull(objects.contentSha256), position))
    .orderBy(asc(objects.bucket), asc(objects.key))
    .limit(limit);
  const result = [];
  for (const object of page) {
    const locations = await db
      .select()
      .from(objectLocations)
      .where(and(eq(objectLocations.bucket, object.bucket), eq(objectLocations.key, object.key)))
      .orderBy(asc(objectLocations.createdAt), asc(objectLocations.backendName));
    result.push({ object, locations });
  }
  return result;
}

/** The version's parts in order (none: it was not made by a multipart upload, or it has been replaced). */
export async function versionParts(db: Queryable, object: Pick<VersionRecord, 'bucket' | 'key' | 'version'>): Promise<{ partNumber: number; size: number; etag: string }[]> {
  return db
    .select({ partNumber: objectParts.partNumber, size: objectParts.size, etag: objectParts.etag })
    .from(objectParts)
    .where(and(eq(objectParts.bucket, object.bucket), eq(objectParts.key, object.key), eq(objectParts.version, object.version)))
    .orderBy(asc(objectParts.partNumber));
}

/**
 * Records a digest computed by reading a copy, only while the object is still that version with no digest (a
 * client's overwrite or another backfill wins), with its parts' digests for a composite one.
 */
export async function recordDigest(
  db: Db,
  object: Pick<VersionRecord, 'bucket' | 'key' | 'version'>,
  digest: string,
  parts: readonly { partNumber: number; sha256: string }[],
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const updated = await tx
      .update(objects)
      .set({ contentSha256: digest })
      .where(and(eq(objects.bucket, object.bucket), eq(objects.key, object.key), eq(objects.version, object.version), isNull(objects.contentSha256)))
      .returning({ key: objects.key });
    if (updated.length === 0) return false;
    for (const part of parts) {
      await tx
        .update(objectParts)
        .set({ sha256: part.sha256 })
        .where(
          and(
            eq(objectParts.bucket, object.bucket),
            eq(objectParts.key, object.key),
            eq(objectParts.version, object.version),
            eq(objectParts.partNumber, part.partNumber),
          ),
        );
    }
    return true;
  });
}

export type CorruptCopyOutcome = { outcome: 'dropped'; cleanupId: number } | { outcome: 'last-copy' } | { outcome: 'changed' };

/**
 * Drops the record of a copy whose bytes do not match its version's digest, only while it is unchanged (same
 * backend and physical key, the object still that version) and another copy of the object is recorded: the last
 * copy is never dropped. In the same transaction its bytes are released and queued for deletion (orphan_bytes), so
 * the accounting stays exact whether or not the delete that follows succeeds.
 */
export async function dropCorruptCopy(
  db: Db,
  copy: Pick<ObjectLocationRow, 'bucket' | 'key' | 'backendName' | 'physicalKey'>,
  version: string,
  reason: CleanupReason,
): Promise<CorruptCopyOutcome> {
  return db.transaction(async (tx) => {
    await lockKey(tx, copy.bucket, copy.key);
    const [current] = await tx
      .select({ version: objects.version })
      .from(objects)
      .where(and(eq(objects.bucket, copy.bucket), eq(objects.key, copy.key)));
    if (current?.version !== version) return { outcome: 'changed' };
    const copies = await tx
      .select({ backendName: objectLocations.backendName, physicalKey: objectLocations.physicalKey, storedSize: objectLocations.storedSize })
      .from(objectLocations)
      .where(and(eq(objectLocations.bucket, copy.bucket), eq(objectLocations.key, copy.key)));
    const row = copies.find((c) => c.backendName === copy.backendName && c.physicalKey === copy.physicalKey);
    if (!row) return { outcome: 'changed' };
    if (copies.length < 2) return { outcome: 'last-copy' };
    await tx
      .delete(objectLocations)
      .where(and(eq(objectLocations.bucket, copy.bucket), eq(objectLocations.key, copy.key), eq(objectLocations.backendName, copy.backendName)));
    await releaseBytes(tx, copy.backendName, row.storedSize);
    const cleanupId = await queueCopyIn(tx, { backendName: copy.backendName, physicalKey: copy.physicalKey, storedSize: row.storedSize }, reason, {
      dueInMs: 0,
      note: 'its bytes did not match the object\'s content digest',
    });
    return { outcome: 'dropped', cleanupId };
  });
}
