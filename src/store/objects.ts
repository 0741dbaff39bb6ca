/** Object records and their copies: lookups, the record-on-write transaction, deletes and listing pages. */
import { and, asc, eq, gt, like, lt, type SQL, sql } from 'drizzle-orm';
import type { CopyEncryption, PartSegment } from '../crypto/sealed-copy.ts';
import type { Db, Queryable } from './db.ts';
import { cacheGenerationOf } from './cache-purges.ts';
import { applyQuotaChanges } from './quotas.ts';
import { type AssembledPart, replaceParts } from './object-parts.ts';
import { type RequirementFailure, type WriteRequirement, WriteRequirementError, CommitRefusedError, commitDelete, commitObject, keyLock, requirementFailure } from './object-commit.ts';
import { backendStates, multipartUploads, objectLocations, objects, type ObjectLocationRow, type ObjectRow, type StoredChecksum } from './schema.ts';

export interface StoredObject extends ObjectRow {
  /** Oldest copy first: the order reads try them in. */
  locations: ObjectLocationRow[];
  /** The parts' sealed segments, read with the record when a copy is sealed per part (multipart, encrypted). */
  segments?: PartSegment[];
  /** The edge cache generation covering it (store/cache-purges.ts), when the lookup asked for it. */
  cacheGeneration?: string;
}

export interface PhysicalCopy {
  backendName: string;
  physicalKey: string;
  storedSize: number;
  /** How the bytes are sealed (null or absent: as the client sent them); a record of the copy keeps it. */
  encryption?: CopyEncryption | null;
}

/** The record and its copies; `withCacheGeneration` reads the edge cache's generation in the same statement. */
export async function findObject(db: Queryable, bucket: string, key: string, opts: { withCacheGeneration?: boolean } = {}): Promise<StoredObject | undefined> {
  const cacheGeneration = opts.withCacheGeneration ? cacheGenerationOf(sql`${objects.bucket}`, sql`${objects.key}`) : sql<string | null>`null`;
  const rows = await db
    .select({ object: objects, location: objectLocations, cacheGeneration })
    .from(objects)
    .leftJoin(objectLocations, and(eq(objectLocations.bucket, objects.bucket), eq(objectLocations.key, objects.key)))
    .where(and(eq(objects.bucket, bucket), eq(objects.key, key)))
    .orderBy(asc(objectLocations.createdAt), asc(objectLocations.backendName));
  const first = rows[0];
  if (!first) return undefined;
  assertRowsAreFor(bucket, key, rows);
  const found: StoredObject = { ...first.object, locations: rows.flatMap((r) => (r.location ? [r.location] : [])) };
  if (first.cacheGeneration !== null) found.cacheGeneration = first.cacheGeneration;
  return found;
}

/**
 * The query names one key; an answer about another means the connection crossed requests (a database or proxy
 * fault). Serving it would hand out another object's bytes, so it is refused outright.
 */
export function assertRowsAreFor(
  bucket: string,
  key: string,
  rows: readonly { object: { bucket: string; key: string }; location: { bucket: string; key: string } | null }[],
): void {
  for (const { object, location } of rows) {
    if (object.bucket !== bucket || object.key !== key || (location && (location.bucket !== bucket || location.key !== key))) {
      throw new MetadataMismatchError(bucket, key, `${object.bucket}/${object.key}`);
    }
  }
}

/** The metadata store answered a question about one key with rows of another. */
export class MetadataMismatchError extends Error {
  constructor(bucket: string, key: string, answered: string) {
    super(`the metadata store answered a lookup of ${bucket}/${key} with rows of ${answered}`);
    this.name = 'MetadataMismatchError';
  }
}

export interface NewObject {
  bucket: string;
  key: string;
  version: string;
  size: number;
  etag: string;
  contentType: string;
  metadata: Record<string, string>;
  headers: Record<string, string>;
  checksum: StoredChecksum | null;
  /** Hex SHA-256 of the client's bytes (composite `-N` form for a multipart object); null when not known. */
  contentSha256: string | null;
  copy: PhysicalCopy;
}

/** The multipart upload an object record completes, and the parts it was assembled from. */
export interface CompletedUpload {
  uploadId: string;
  parts: readonly AssembledPart[];
}

/** The multipart upload being completed was aborted (or completed) meanwhile. */
export class UploadGoneError extends Error {
  readonly uploadId: string;
  constructor(uploadId: string) {
    super(`multipart upload ${uploadId} no longer exists`);
    this.name = 'UploadGoneError';
    this.uploadId = uploadId;
  }
}

/** The backend stopped taking new copies (a drain started) while this object was being written to it. */
export class BackendNotActiveError extends Error {
  readonly backendName: string;
  constructor(backendName: string, mode: string) {
    super(`backend ${backendName} is ${mode} and takes no new copies`);
    this.backendName = backendName;
    this.name = 'BackendNotActiveError';
  }
}

export class QuotaExceededError extends Error {
  readonly backendName: string;
  constructor(backendName: string) {
    super(`backend ${backendName} has no room left for this object`);
    this.backendName = backendName;
    this.name = 'QuotaExceededError';
  }
}

/** Serialises writers of one key for the rest of the transaction. */
export async function lockKey(tx: Queryable, bucket: string, key: string): Promise<void> {
  await tx.execute(keyLock(bucket, key));
}

/** Removes every copy row of the key; returns them (their bytes are released by the caller, in quota order). */
async function dropCopies(tx: Queryable, bucket: string, key: string): Promise<PhysicalCopy[]> {
  const removed = await tx
    .delete(objectLocations)
    .where(and(eq(objectLocations.bucket, bucket), eq(objectLocations.key, key)))
    .returning({
      backendName: objectLocations.backendName,
      physicalKey: objectLocations.physicalKey,
      storedSize: objectLocations.storedSize,
    });
  return removed;
}

/**
 * Records a freshly written object as the key's only copy, in one transaction: the previous version's copies are
 * dropped and their bytes released, then the new copy's bytes are reserved if they still fit. Throws
 * QuotaExceededError or BackendNotActiveError (and changes nothing) when they do not, and WriteRequirementError
 * when `requirement` does not hold for the current object under the key's lock. Returns the displaced copies.
 * A plain write is one batch (one round trip, object-commit.ts); completing a multipart upload, which also moves
 * the parts' rows, is an interactive transaction.
 */
export async function recordObject(
  db: Db,
  object: NewObject,
  requirement?: WriteRequirement,
  options: { completesUpload?: CompletedUpload } = {},
): Promise<PhysicalCopy[]> {
  if (!options.completesUpload) {
    try {
      return await commitObject(db, object, requirement);
    } catch (err) {
      if (!(err instanceof CommitRefusedError)) throw err;
      const { refusal } = err;
      if (refusal === 'quota') throw new QuotaExceededError(object.copy.backendName);
      if (refusal.startsWith('mode:')) throw new BackendNotActiveError(object.copy.backendName, refusal.slice('mode:'.length));
      throw new WriteRequirementError(refusal as RequirementFailure);
    }
  }
  const completed = options.completesUpload;
  return db.transaction(async (tx) => {
    await lockKey(tx, object.bucket, object.key);
    // The parts' bytes stop counting as in flight in the same transaction that counts the object's.
    const removed = await tx.delete(multipartUploads).where(eq(multipartUploads.uploadId, completed.uploadId)).returning({ id: multipartUploads.uploadId });
    if (removed.length === 0) throw new UploadGoneError(completed.uploadId);
    if (requirement) {
      const [current] = await tx
        .select({ etag: objects.etag })
        .from(objects)
        .where(and(eq(objects.bucket, object.bucket), eq(objects.key, object.key)));
      // Throwing here rolls the transaction back: the write condition no longer holds.
      const failure = requirementFailure(requirement, current);
      if (failure) throw new WriteRequirementError(failure);
    }
    const displaced = await dropCopies(tx, object.bucket, object.key);
    const row = {
      bucket: object.bucket,
      key: object.key,
      version: object.version,
      size: object.size,
      etag: object.etag,
      contentType: object.contentType,
      metadata: object.metadata,
      headers: object.headers,
      checksum: object.checksum,
      contentSha256: object.contentSha256,
      uploadId: completed.uploadId,
      createdAt: sql`now()`,
    };
    await tx
      .insert(objects)
      .values(row)
      .onConflictDoUpdate({ target: [objects.bucket, objects.key], set: row });
    await replaceParts(tx, object, completed.parts);
    await tx.insert(objectLocations).values({
      bucket: object.bucket,
      key: object.key,
      backendName: object.copy.backendName,
      physicalKey: object.copy.physicalKey,
      storedSize: object.copy.storedSize,
      encryption: object.copy.encryption ?? null,
    });
    const releases = displaced.map((c) => ({ backendName: c.backendName, release: c.storedSize }));
    if (!(await applyQuotaChanges(tx, [...releases, { backendName: object.copy.backendName, reserve: object.copy.storedSize }]))) {
      const [state] = await tx.select({ mode: backendStates.mode }).from(backendStates).where(eq(backendStates.backendName, object.copy.backendName));
      if (state && state.mode !== 'active') throw new BackendNotActiveError(object.copy.backendName, state.mode);
      throw new QuotaExceededError(object.copy.backendName);
    }
    return displaced;
  });
}

/**
 * The ETag of the object a multipart upload created, while that object is still the key's current one (an
 * overwrite or delete ends it): what a repeated CompleteMultipartUpload answers.
 */
export async function findCompletedUpload(
  db: Queryable,
  bucket: string,
  key: string,
  uploadId: string,
): Promise<{ etag: string; checksum: StoredChecksum | null } | undefined> {
  const [row] = await db
    .select({ etag: objects.etag, checksum: objects.checksum })
    .from(objects)
    .where(and(eq(objects.bucket, bucket), eq(objects.key, key), eq(objects.uploadId, uploadId)));
  return row;
}

/** Deletes the object and all its copy rows; returns the copies to delete physically (none if it did not exist). */
export async function deleteObjectRecord(db: Db, bucket: string, key: string): Promise<PhysicalCopy[]> {
  return commitDelete(db, bucket, key);
}

/**
 * Deletes the object only while `version` is still its current one (lifecycle expiry: a client that wrote the key
 * after it was found expired keeps its new object). Checked under the key's lock, in the transaction that removes
 * the record. Returns the copies to delete physically, or undefined when the key changed or is gone.
 */
export async function deleteObjectVersion(db: Db, bucket: string, key: string, version: string): Promise<PhysicalCopy[] | undefined> {
  return db.transaction(async (tx) => {
    await lockKey(tx, bucket, key);
    const [current] = await tx
      .select({ version: objects.version })
      .from(objects)
      .where(and(eq(objects.bucket, bucket), eq(objects.key, key)));
    if (current?.version !== version) return undefined;
    return removeObject(tx, bucket, key);
  });
}

async function removeObject(tx: Queryable, bucket: string, key: string): Promise<PhysicalCopy[]> {
  const removed = await dropCopies(tx, bucket, key);
  await applyQuotaChanges(tx, removed.map((c) => ({ backendName: c.backendName, release: c.storedSize })));
  await tx.delete(objects).where(and(eq(objects.bucket, bucket), eq(objects.key, key)));
  return removed;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
  createdAt: Date;
}

/** Up to `limit` keys of the bucket that start with `prefix` and sort strictly after `after`, in byte order. */
export async function listObjectPage(
  db: Queryable,
  query: { bucket: string; prefix: string; after: string; atLeast?: string | undefined; limit: number },
): Promise<ListedObject[]> {
  const conditions = [eq(objects.bucket, query.bucket), gt(objects.key, query.after)];
  if (query.prefix) conditions.push(like(objects.key, `${escapeLike(query.prefix)}%`));
  if (query.atLeast !== undefined) conditions.push(sql`${objects.key} >= ${query.atLeast}`);
  return db
    .select({ key: objects.key, size: objects.size, etag: objects.etag, createdAt: objects.createdAt })
    .from(objects)
    .where(and(...conditions))
    .orderBy(asc(objects.key))
    .limit(query.limit);
}

/** A listing entry: an object, or the first key of a common prefix (`grouped`: the walk jumped past the rest). */
export interface ListedEntry extends ListedObject {
  grouped: boolean;
}

/**
 * One listing page in one statement: up to `limit` entries of the bucket under `prefix`, strictly after `after` and
 * at or after `atLeast`, in byte order. A key with `delimiter` after the prefix opens a group (S3's common prefix,
 * the key up to that delimiter); the walk takes the group's first key and then jumps past every key that starts
 * with the group, so a page costs one index probe per entry however many keys a group holds. The jump goes past
 * `<group>` followed by U+10FFFF, the last code point: a key that continues a group with that very character comes
 * up again as another entry of the same group, which the caller skips.
 */
export async function listEntryPage(
  db: Queryable,
  query: { bucket: string; prefix: string; delimiter: string; after: string; atLeast?: string | undefined; limit: number },
): Promise<ListedEntry[]> {
  const { bucket, prefix, delimiter, limit } = query;
  const lower = query.atLeast !== undefined && query.atLeast > prefix ? query.atLeast : prefix;
  // The group of a key: itself up to the first delimiter after the prefix, or null (lengths in characters, as SQL
  // counts them).
  const group = (key: SQL) =>
    delimiter === ''
      ? sql`null::text`
      : sql`case when strpos(substr(${key}, length(${prefix}::text) + 1), ${delimiter}::text) > 0 then left(${key}, length(${prefix}::text) + strpos(substr(${key}, length(${prefix}::text) + 1), ${delimiter}::text) + length(${delimiter}::text) - 1) end`;
  const result = await db.execute(sql`
    with recursive walk (key, size, etag, created_ms, grp, n) as (
      (select o.key, o.size::float8, o.etag, floor(extract(epoch from o.created_at) * 1000)::float8, ${group(sql`o.key`)}, 1
         from ${objects} o
        where o.bucket = ${bucket} and o.key > ${query.after} and o.key >= ${lower}
        order by o.key limit 1)
      union all
      (select o.key, o.size::float8, o.etag, floor(extract(epoch from o.created_at) * 1000)::float8, ${group(sql`o.key`)}, w.n + 1
         from walk w
         cross join lateral (
           select key, size, etag, created_at from ${objects}
            where bucket = ${bucket}
              and key > (case when w.grp is null then w.key else greatest(w.key, w.grp || chr(1114111)) end)
            order by key limit 1) o
        where w.n < ${limit} and starts_with(w.key, ${prefix}))
    )
    select key, size, etag, created_ms, grp from walk where starts_with(key, ${prefix}) order by key`);
  const rows = (result as unknown as { rows: { key: string; size: number; etag: string; created_ms: number; grp: string | null }[] }).rows;
  return rows.map((r) => ({ key: r.key, size: Number(r.size), etag: r.etag, createdAt: new Date(Number(r.created_ms)), grouped: r.grp !== null }));
}

export interface ExpiredObject {
  key: string;
  /** The version found expired: only that version is deleted (deleteObjectVersion). */
  version: string;
  /** The backends holding its copies. */
  backends: string[];
}

/**
 * Up to `limit` objects of the bucket whose key starts with `prefix` (the client's key; '' matches every key),
 * sorts strictly after `after`, and whose last client write (created_at) is before `writtenBefore`; in key order.
 */
export async function expiredObjectPage(
  db: Queryable,
  query: { bucket: string; prefix: string; writtenBefore: Date; after: string; limit: number },
): Promise<ExpiredObject[]> {
  const conditions = [eq(objects.bucket, query.bucket), gt(objects.key, query.after), lt(objects.createdAt, query.writtenBefore)];
  if (query.prefix) conditions.push(like(objects.key, `${escapeLike(query.prefix)}%`));
  const rows = await db
    .select({
      key: objects.key,
      version: objects.version,
      backends: sql<string[]>`coalesce(array_agg(${objectLocations.backendName}) filter (where ${objectLocations.backendName} is not null), '{}')`,
    })
    .from(objects)
    .leftJoin(objectLocations, and(eq(objectLocations.bucket, objects.bucket), eq(objectLocations.key, objects.key)))
    .where(and(...conditions))
    .groupBy(objects.bucket, objects.key, objects.version)
    .orderBy(asc(objects.key))
    .limit(query.limit);
  return rows;
}

/** LIKE's default escape character is the backslash. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
