/** The parts of objects made by CompleteMultipartUpload: recorded with the object, read by part-number requests. */
import { and, asc, count, eq, gt, sql } from 'drizzle-orm';
import type { PartSegment } from '../crypto/sealed-copy.ts';
import type { Queryable } from './db.ts';
import { type ObjectPartRow, objectParts } from './schema.ts';

/** A part of an object assembled by CompleteMultipartUpload, as object_parts records it. */
export interface AssembledPart {
  partNumber: number;
  firstByte: number;
  size: number;
  etag: string;
  checksum: { algorithm: string; value: string } | null;
  /** Hex SHA-256 of the part's client bytes, or null when not known. */
  sha256: string | null;
  /** base64 base nonce of the part's sealed segment (null: stored as is). */
  nonce: string | null;
}

/** The object version whose parts are meant: parts of any other version of the key are never used. */
export interface ObjectVersion {
  bucket: string;
  key: string;
  version: string;
}

/** Rows per insert: 10,000 parts at once would pass Postgres's 65,535 bind parameters. */
const ROWS_PER_INSERT = 1000;

/**
 * In the transaction that records an object: the key's previous parts go (an overwrite is an upsert, so no cascade
 * removes them) and the new version's come.
 */
export async function replaceParts(tx: Queryable, object: ObjectVersion, parts: readonly AssembledPart[]): Promise<void> {
  await tx.delete(objectParts).where(and(eq(objectParts.bucket, object.bucket), eq(objectParts.key, object.key)));
  for (let i = 0; i < parts.length; i += ROWS_PER_INSERT) {
    const rows = parts.slice(i, i + ROWS_PER_INSERT).map((p) => ({ bucket: object.bucket, key: object.key, version: object.version, ...p }));
    await tx.insert(objectParts).values(rows);
  }
}

const ofVersion = (object: ObjectVersion) =>
  and(eq(objectParts.bucket, object.bucket), eq(objectParts.key, object.key), eq(objectParts.version, object.version));

/**
 * The object's `position`-th part (1-based, in part-number order, which is how GetObject's partNumber counts) and
 * how many parts the version has; `count` is 0 when the version's parts are gone (the object was replaced).
 */
export async function findObjectPart(db: Queryable, object: ObjectVersion, position: number): Promise<{ part: ObjectPartRow | undefined; count: number }> {
  // The window counts every row of the version before OFFSET skips to the one asked for.
  const [row] = await db
    .select({ part: objectParts, count: sql<string>`count(*) over ()` })
    .from(objectParts)
    .where(ofVersion(object))
    .orderBy(asc(objectParts.partNumber))
    .offset(position - 1)
    .limit(1);
  if (row) return { part: row.part, count: Number(row.count) };
  return { part: undefined, count: (await summarizeObjectParts(db, object)).count };
}

/** How many parts the version has, and whether every one carries a checksum, all of one algorithm. */
export async function summarizeObjectParts(db: Queryable, object: ObjectVersion): Promise<{ count: number; checksummed: boolean }> {
  const [row] = await db
    .select({
      count: count(),
      withChecksum: count(objectParts.checksum),
      algorithms: sql<string>`count(distinct ${objectParts.checksum}->>'algorithm')`,
    })
    .from(objectParts)
    .where(ofVersion(object));
  const n = Number(row?.count ?? 0);
  return { count: n, checksummed: n > 0 && Number(row?.withChecksum) === n && Number(row?.algorithms) === 1 };
}

/** Up to `limit` parts numbered above `after`, in part-number order (GetObjectAttributes' ObjectParts). */
export async function listObjectParts(db: Queryable, object: ObjectVersion, after: number, limit: number): Promise<ObjectPartRow[]> {
  return db
    .select()
    .from(objectParts)
    .where(and(ofVersion(object), gt(objectParts.partNumber, after)))
    .orderBy(asc(objectParts.partNumber))
    .limit(limit);
}

/** The version's parts as segments of its sealed copies, in part-number order (the order the backend assembled). */
export async function partSegments(db: Queryable, object: ObjectVersion): Promise<PartSegment[]> {
  return db
    .select({ partNumber: objectParts.partNumber, size: objectParts.size, nonce: objectParts.nonce })
    .from(objectParts)
    .where(ofVersion(object))
    .orderBy(asc(objectParts.partNumber));
}
