/**
 * What reconcile and sync compare a backend's listing with: the copies recorded on the backend in a range of
 * physical keys (in the backend's byte order), the uploads in flight there, and the import of one copy as a new
 * object record.
 */
import { and, eq, sql } from 'drizzle-orm';
import { type Db, type Queryable, textTuples } from './db.ts';
import { lockKey } from './objects.ts';
import { reserveBytes } from './quotas.ts';
import { multipartUploads, objectLocations, objects } from './schema.ts';

/**
 * The copies recorded on `backendName` whose physical keys sort after `after` and up to `through` (inclusive;
 * unbounded when undefined), compared byte by byte as S3 lists keys.
 */
export async function recordedInRange(
  db: Queryable,
  backendName: string,
  after: string | undefined,
  through: string | undefined,
): Promise<{ physicalKey: string; bucket: string; key: string; storedSize: number; createdAt: Date }[]> {
  return db
    .select({ physicalKey: objectLocations.physicalKey, bucket: objectLocations.bucket, key: objectLocations.key, storedSize: objectLocations.storedSize, createdAt: objectLocations.createdAt })
    .from(objectLocations)
    .where(
      and(
        eq(objectLocations.backendName, backendName),
        after === undefined ? undefined : sql`${objectLocations.physicalKey} collate "C" > ${after}`,
        through === undefined ? undefined : sql`${objectLocations.physicalKey} collate "C" <= ${through}`,
      ),
    );
}

/** The physical keys of multipart uploads in flight on the backend (their object appears only at completion). */
export async function uploadKeysOn(db: Queryable, backendName: string, physicalKeys: readonly string[]): Promise<Set<string>> {
  if (physicalKeys.length === 0) return new Set();
  const rows = await db
    .select({ physicalKey: multipartUploads.physicalKey })
    .from(multipartUploads)
    .where(and(eq(multipartUploads.backendName, backendName), sql`${multipartUploads.physicalKey} in (${textTuples(['p'], physicalKeys.map((k) => [k]))})`));
  return new Set(rows.map((r) => r.physicalKey));
}

/** Which of these objects have a record ("bucket\nkey"). */
export async function recordedObjects(db: Queryable, keys: readonly { bucket: string; key: string }[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db
    .select({ bucket: objects.bucket, key: objects.key })
    .from(objects)
    .where(sql`(${objects.bucket}, ${objects.key}) in (${textTuples(['b', 'k'], keys.map((k) => [k.bucket, k.key]))})`);
  return new Set(rows.map((r) => `${r.bucket}\n${r.key}`));
}

export interface ImportedCopy {
  bucket: string;
  key: string;
  version: string;
  size: number;
  etag: string;
  createdAt: Date;
  backendName: string;
  physicalKey: string;
}

/**
 * Records a copy found on a backend as a new object, under the key's lock: only while the key has no record (a
 * client's write wins) and the backend's quota takes its bytes.
 */
export async function importCopy(db: Db, copy: ImportedCopy): Promise<'imported' | 'exists' | 'no-room'> {
  return db.transaction(async (tx) => {
    await lockKey(tx, copy.bucket, copy.key);
    const [existing] = await tx.select({ version: objects.version }).from(objects).where(and(eq(objects.bucket, copy.bucket), eq(objects.key, copy.key)));
    if (existing) return 'exists';
    if (!(await reserveBytes(tx, copy.backendName, copy.size))) return 'no-room';
    await tx.insert(objects).values({
      bucket: copy.bucket,
      key: copy.key,
      version: copy.version,
      size: copy.size,
      etag: copy.etag,
      contentType: 'application/octet-stream',
      createdAt: copy.createdAt,
    });
    await tx.insert(objectLocations).values({
      bucket: copy.bucket,
      key: copy.key,
      backendName: copy.backendName,
      physicalKey: copy.physicalKey,
      storedSize: copy.size,
      createdAt: copy.createdAt,
    });
    return 'imported';
  });
}
