/** Multipart upload records: the upload pinned to a backend, its parts, and the listings S3 offers over them. */
import { and, asc, count, desc, eq, gt, inArray, like, lt, ne, or, sql } from 'drizzle-orm';
import type { Db, Queryable } from './db.ts';
import { backendQuotas, multipartParts, multipartUploads } from './schema.ts';

export type UploadRow = typeof multipartUploads.$inferSelect;
export type PartRow = typeof multipartParts.$inferSelect;

export async function countActiveUploads(db: Queryable, bucket: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(multipartUploads).where(eq(multipartUploads.bucket, bucket));
  return Number(row?.n ?? 0);
}

export async function insertUpload(db: Queryable, row: typeof multipartUploads.$inferInsert): Promise<void> {
  await db.insert(multipartUploads).values(row);
}

export async function findUpload(db: Queryable, uploadId: string): Promise<UploadRow | undefined> {
  const [row] = await db.select().from(multipartUploads).where(eq(multipartUploads.uploadId, uploadId));
  return row;
}

/**
 * 'recorded' names the backend ETags of other uploads of the same part number still recorded (usually none): the
 * backend kept only one of them, and its own part list says which.
 */
export type PartOutcome = { recorded: true; overlapping: string[] } | { recorded: false; reason: 'no-room' | 'no-upload' };

/**
 * Records a part, but only while the upload still exists and the part's bytes fit in the backend next to its live
 * copies, orphans and the upload parts already in flight. The backend's quota row is locked so concurrent parts
 * cannot both take the last free bytes; the upload row is locked too, so parts of one upload are recorded one at a
 * time and each sees the uploads of its number recorded before it.
 */
export async function recordPart(db: Db, backendName: string, part: typeof multipartParts.$inferInsert): Promise<PartOutcome> {
  return db.transaction(async (tx) => {
    // Upload row first, then the quota row: the same order as completing an upload, so the two never deadlock.
    const [upload] = await tx.select({ id: multipartUploads.uploadId }).from(multipartUploads).where(eq(multipartUploads.uploadId, part.uploadId)).for('update');
    if (!upload) return { recorded: false, reason: 'no-upload' };
    const [quota] = await tx
      .select({ used: backendQuotas.bytesUsed, limit: backendQuotas.bytesLimit, orphans: backendQuotas.orphanBytes })
      .from(backendQuotas)
      .where(eq(backendQuotas.backendName, backendName))
      .for('update');
    if (quota && quota.limit > 0) {
      const [inflight] = await tx
        .select({ bytes: sql<string>`coalesce(sum(${multipartParts.storedSize}), 0)` })
        .from(multipartParts)
        .innerJoin(multipartUploads, eq(multipartUploads.uploadId, multipartParts.uploadId))
        .where(
          and(
            eq(multipartUploads.backendName, backendName),
            // A re-uploaded part replaces its earlier bytes.
            sql`not (${multipartParts.uploadId} = ${part.uploadId} and ${multipartParts.partNumber} = ${part.partNumber})`,
          ),
        );
      if (quota.used + quota.orphans + Number(inflight?.bytes ?? 0) + (part.storedSize ?? 0) > quota.limit) return { recorded: false, reason: 'no-room' };
    }
    // The same bytes uploaded again are the same backend part (same ETag): one row.
    await tx
      .insert(multipartParts)
      .values(part)
      .onConflictDoUpdate({
        target: [multipartParts.uploadId, multipartParts.partNumber, multipartParts.backendEtag],
        set: { etag: part.etag, size: part.size, storedSize: part.storedSize, checksum: part.checksum, sha256: part.sha256 ?? null, nonce: part.nonce ?? null, createdAt: sql`now()` },
      });
    const others = await tx
      .select({ backendEtag: multipartParts.backendEtag })
      .from(multipartParts)
      .where(and(samePart(part.uploadId, part.partNumber), ne(multipartParts.backendEtag, part.backendEtag ?? '')));
    return { recorded: true, overlapping: others.map((o) => o.backendEtag) };
  });
}

/** Drops uploads of a part number that the backend no longer holds; their bytes stop counting as in flight. */
export async function dropPartUploads(db: Queryable, uploadId: string, partNumber: number, backendEtags: readonly string[]): Promise<void> {
  if (backendEtags.length === 0) return;
  await db.delete(multipartParts).where(and(samePart(uploadId, partNumber), inArray(multipartParts.backendEtag, [...backendEtags])));
}

function samePart(uploadId: string, partNumber: number) {
  return and(eq(multipartParts.uploadId, uploadId), eq(multipartParts.partNumber, partNumber));
}

/**
 * ListParts: one row per part number above `after`. Where uploads of one number are still waiting for the backend
 * to say which it kept (it could not be asked), the latest recorded stands for them.
 */
export async function listParts(db: Queryable, uploadId: string, after: number, limit: number): Promise<PartRow[]> {
  return db
    .selectDistinctOn([multipartParts.partNumber])
    .from(multipartParts)
    .where(and(eq(multipartParts.uploadId, uploadId), gt(multipartParts.partNumber, after)))
    .orderBy(asc(multipartParts.partNumber), desc(multipartParts.createdAt))
    .limit(limit);
}

/** Every recorded part upload, by part number (several for a number whose uploads overlapped). */
export async function allParts(db: Queryable, uploadId: string): Promise<PartRow[]> {
  return db.select().from(multipartParts).where(eq(multipartParts.uploadId, uploadId)).orderBy(asc(multipartParts.partNumber), desc(multipartParts.createdAt));
}

/** Removes the upload and its parts; returns the row, or undefined if it was already gone. */
export async function deleteUpload(db: Queryable, uploadId: string): Promise<UploadRow | undefined> {
  const [row] = await db.delete(multipartUploads).where(eq(multipartUploads.uploadId, uploadId)).returning();
  return row;
}

/** Uploads of the bucket in (key, upload id) order after the markers, for ListMultipartUploads. */
export async function listUploads(
  db: Queryable,
  query: { bucket: string; prefix: string; keyMarker: string; uploadIdMarker: string; limit: number },
): Promise<UploadRow[]> {
  const after = query.uploadIdMarker
    ? or(gt(multipartUploads.key, query.keyMarker), and(eq(multipartUploads.key, query.keyMarker), gt(multipartUploads.uploadId, query.uploadIdMarker)))
    : gt(multipartUploads.key, query.keyMarker);
  const conditions = [eq(multipartUploads.bucket, query.bucket), after];
  if (query.prefix) conditions.push(like(multipartUploads.key, `${query.prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%`));
  return db
    .select()
    .from(multipartUploads)
    .where(and(...conditions))
    .orderBy(asc(multipartUploads.key), asc(multipartUploads.uploadId))
    .limit(query.limit);
}

/** Multipart uploads in progress, per backend. */
export async function activeUploadsByBackend(db: Queryable): Promise<Map<string, number>> {
  const rows = await db
    .select({ backend: multipartUploads.backendName, n: sql<string>`count(*)` })
    .from(multipartUploads)
    .groupBy(multipartUploads.backendName);
  return new Map(rows.map((r) => [r.backend, Number(r.n)]));
}

/** Up to `limit` uploads started before `startedBefore`, oldest first (the stale multipart GC). */
export async function staleUploads(db: Queryable, startedBefore: Date, limit: number): Promise<UploadRow[]> {
  return db.select().from(multipartUploads).where(lt(multipartUploads.createdAt, startedBefore)).orderBy(asc(multipartUploads.createdAt), asc(multipartUploads.uploadId)).limit(limit);
}
