/**
 * Bulk jobs over copies (encrypt-existing, decrypt-existing, rotate-encryption-key): the job row, the keyset walk
 * of the copies a job matches, each batch's counts added exactly once, and the compare-and-swap that replaces a
 * copy's bytes or its wrapped data key only while the copy is still the one the job read.
 */
import { type SQL, and, asc, desc, eq, sql } from 'drizzle-orm';
import type { CopyEncryption } from '../crypto/sealed-copy.ts';
import type { Db, Queryable } from './db.ts';
import { lockKey } from './objects.ts';
import { dropCleanupItem } from './cleanup.ts';
import { applyQuotaChanges } from './quotas.ts';
import {
  type BulkJobKind,
  type BulkJobRow,
  type CopyPosition,
  type ObjectLocationRow,
  bulkJobBatches,
  bulkJobs,
  objectLocations,
  objects,
} from './schema.ts';

/** Which copies a job works on. */
export type CopyFilter =
  | { kind: 'unsealed' }
  | { kind: 'sealed' }
  | { kind: 'wrapped-by'; keyId: string }
  | { kind: 'not-wrapped-by'; keyId: string };

function matching(filter: CopyFilter): SQL {
  const keyId = sql`(${objectLocations.encryption}->>'keyId')`;
  switch (filter.kind) {
    case 'unsealed':
      return sql`${objectLocations.encryption} is null`;
    case 'sealed':
      return sql`${objectLocations.encryption} is not null`;
    case 'wrapped-by':
      return sql`${objectLocations.encryption} is not null and ${keyId} = ${filter.keyId}`;
    case 'not-wrapped-by':
      return sql`${objectLocations.encryption} is not null and ${keyId} <> ${filter.keyId}`;
  }
}

/** Copies after `after` in (bucket, key, backend) order; keys compare byte by byte, as the column does. */
function after(position: CopyPosition | null | undefined): SQL {
  if (!position) return sql`true`;
  return sql`(${objectLocations.bucket}, ${objectLocations.key}, ${objectLocations.backendName}) > (${position.bucket}, ${position.key}::text collate "C", ${position.backendName})`;
}

function upTo(position: CopyPosition): SQL {
  return sql`(${objectLocations.bucket}, ${objectLocations.key}, ${objectLocations.backendName}) <= (${position.bucket}, ${position.key}::text collate "C", ${position.backendName})`;
}

export async function countCopies(db: Queryable, filter: CopyFilter): Promise<number> {
  const [row] = await db.select({ n: sql<string>`count(*)` }).from(objectLocations).where(matching(filter));
  return Number(row?.n ?? 0);
}

/** Copies wrapped by each key id (plaintext copies under null). */
export async function copiesByKey(db: Queryable): Promise<{ keyId: string | null; copies: number }[]> {
  const keyId = sql<string | null>`(${objectLocations.encryption}->>'keyId')`;
  const rows = await db.select({ keyId, copies: sql<string>`count(*)` }).from(objectLocations).groupBy(keyId).orderBy(keyId);
  return rows.map((r) => ({ keyId: r.keyId, copies: Number(r.copies) }));
}

/** The positions of the next `limit` matching copies after `from`. */
export async function nextPositions(db: Queryable, filter: CopyFilter, from: CopyPosition | null, limit: number): Promise<CopyPosition[]> {
  return db
    .select({ bucket: objectLocations.bucket, key: objectLocations.key, backendName: objectLocations.backendName })
    .from(objectLocations)
    .where(and(matching(filter), after(from)))
    .orderBy(asc(objectLocations.bucket), asc(objectLocations.key), asc(objectLocations.backendName))
    .limit(limit);
}

/** A copy a batch works on, with what its object's record says about the client's bytes. */
export interface BatchCopy {
  location: ObjectLocationRow;
  object: { version: string; size: number; etag: string; checksum: (typeof objects.$inferSelect)['checksum'] };
}

/** The matching copies in (from, through], as a batch message names them. */
export async function copiesInRange(db: Queryable, filter: CopyFilter, from: CopyPosition | null, through: CopyPosition, limit: number): Promise<BatchCopy[]> {
  return db
    .select({
      location: objectLocations,
      object: { version: objects.version, size: objects.size, etag: objects.etag, checksum: objects.checksum },
    })
    .from(objectLocations)
    .innerJoin(objects, and(eq(objects.bucket, objectLocations.bucket), eq(objects.key, objectLocations.key)))
    .where(and(matching(filter), after(from), upTo(through)))
    .orderBy(asc(objectLocations.bucket), asc(objectLocations.key), asc(objectLocations.backendName))
    .limit(limit);
}

/** The running job of this kind, or a new one; `created` says which. */
export async function startJob(
  db: Db,
  job: { id: string; kind: BulkJobKind; params: Record<string, string>; estimated: number },
): Promise<{ job: BulkJobRow; created: boolean }> {
  const [inserted] = await db
    .insert(bulkJobs)
    .values(job)
    .onConflictDoNothing({ target: bulkJobs.kind, where: sql`${bulkJobs.status} = 'running'` })
    .returning();
  if (inserted) return { job: inserted, created: true };
  const running = await runningJob(db, job.kind);
  if (!running) throw new Error(`a ${job.kind} job was running and is gone; try again`);
  return { job: running, created: false };
}

export async function runningJob(db: Queryable, kind: BulkJobKind): Promise<BulkJobRow | undefined> {
  const [row] = await db.select().from(bulkJobs).where(and(eq(bulkJobs.kind, kind), eq(bulkJobs.status, 'running')));
  return row;
}

export async function latestJob(db: Queryable, kind: BulkJobKind): Promise<BulkJobRow | undefined> {
  const [row] = await db.select().from(bulkJobs).where(eq(bulkJobs.kind, kind)).orderBy(desc(bulkJobs.createdAt)).limit(1);
  return row;
}

export async function findJob(db: Queryable, id: string): Promise<BulkJobRow | undefined> {
  const [row] = await db.select().from(bulkJobs).where(eq(bulkJobs.id, id));
  return row;
}

export async function runningJobs(db: Queryable): Promise<BulkJobRow[]> {
  return db.select().from(bulkJobs).where(eq(bulkJobs.status, 'running'));
}

/** Running jobs with no progress for `ms`, by the database's clock (the one that stamped their progress). */
export async function staleJobs(db: Queryable, ms: number): Promise<BulkJobRow[]> {
  return db
    .select()
    .from(bulkJobs)
    .where(and(eq(bulkJobs.status, 'running'), sql`${bulkJobs.updatedAt} < now() - make_interval(secs => ${ms / 1000})`));
}

/** Completes the job once its producer is done and every batch it recorded is counted. */
const COMPLETE_WHEN_DONE = sql`case when ${bulkJobs.produced} and ${bulkJobs.batchesDone} >= ${bulkJobs.batchesSent} then 'complete' else ${bulkJobs.status} end`;
const FINISHED_WHEN_DONE = sql`case when ${bulkJobs.produced} and ${bulkJobs.batchesDone} >= ${bulkJobs.batchesSent} then now() else ${bulkJobs.finishedAt} end`;

/** A batch as its message names it. */
export interface BatchRange {
  batch: number;
  from: CopyPosition | null;
  through: CopyPosition;
  count: number;
}

/**
 * Records the next batches (before their messages are sent, so a lost message can be sent again) and how far the
 * producer got: only from the position it read, so two producers racing cannot record a batch twice. Returns the
 * job as it is now, or undefined when another producer moved it first.
 */
export async function recordBatches(
  db: Db,
  job: Pick<BulkJobRow, 'id' | 'batchesSent'>,
  batches: readonly BatchRange[],
  progress: { cursor: CopyPosition | null; produced: boolean },
): Promise<BulkJobRow | undefined> {
  return db.transaction(async (tx) => {
    const [moved] = await tx
      .update(bulkJobs)
      .set({
        cursor: progress.cursor,
        batchesSent: sql`${bulkJobs.batchesSent} + ${batches.length}`,
        total: sql`${bulkJobs.total} + ${batches.reduce((n, b) => n + b.count, 0)}`,
        produced: progress.produced,
        updatedAt: sql`now()`,
      })
      .where(and(eq(bulkJobs.id, job.id), eq(bulkJobs.status, 'running'), eq(bulkJobs.batchesSent, job.batchesSent)))
      .returning({ id: bulkJobs.id });
    if (!moved) return undefined;
    if (batches.length > 0) await tx.insert(bulkJobBatches).values(batches.map((b) => ({ jobId: job.id, ...b })));
    const [updated] = await tx.update(bulkJobs).set({ status: COMPLETE_WHEN_DONE, finishedAt: FINISHED_WHEN_DONE }).where(eq(bulkJobs.id, job.id)).returning();
    return updated;
  });
}

/** The job's batches recorded and not yet counted (sent, in flight, or lost). */
export async function openBatches(db: Queryable, id: string): Promise<BatchRange[]> {
  return db
    .select({ batch: bulkJobBatches.batch, from: bulkJobBatches.from, through: bulkJobBatches.through, count: bulkJobBatches.count })
    .from(bulkJobBatches)
    .where(and(eq(bulkJobBatches.jobId, id), eq(bulkJobBatches.done, false)))
    .orderBy(asc(bulkJobBatches.batch));
}

export async function batchDone(db: Queryable, id: string, batch: number): Promise<boolean> {
  const [row] = await db.select({ done: bulkJobBatches.done }).from(bulkJobBatches).where(and(eq(bulkJobBatches.jobId, id), eq(bulkJobBatches.batch, batch)));
  return row?.done ?? true;
}

/** The job is making progress (a copy was processed): the watchdog leaves it alone. */
export async function touchJob(db: Queryable, id: string): Promise<void> {
  await db.update(bulkJobs).set({ updatedAt: sql`now()` }).where(eq(bulkJobs.id, id));
}

export interface BatchCounts {
  succeeded: number;
  failed: number;
  skipped: number;
  bytes: number;
  lastError?: string | undefined;
}

/** Adds a batch's counts to its job, once: a batch already counted changes nothing (returns undefined). */
export async function finishBatch(db: Db, id: string, batch: number, counts: BatchCounts): Promise<BulkJobRow | undefined> {
  return db.transaction(async (tx) => {
    const [recorded] = await tx
      .update(bulkJobBatches)
      .set({ done: true, succeeded: counts.succeeded, failed: counts.failed, skipped: counts.skipped, doneAt: sql`now()` })
      .where(and(eq(bulkJobBatches.jobId, id), eq(bulkJobBatches.batch, batch), eq(bulkJobBatches.done, false)))
      .returning({ batch: bulkJobBatches.batch });
    if (!recorded) return undefined;
    await tx
      .update(bulkJobs)
      .set({
        succeeded: sql`${bulkJobs.succeeded} + ${counts.succeeded}`,
        failed: sql`${bulkJobs.failed} + ${counts.failed}`,
        skipped: sql`${bulkJobs.skipped} + ${counts.skipped}`,
        bytes: sql`${bulkJobs.bytes} + ${counts.bytes}`,
        batchesDone: sql`${bulkJobs.batchesDone} + 1`,
        ...(counts.lastError ? { lastError: counts.lastError } : {}),
        updatedAt: sql`now()`,
      })
      .where(eq(bulkJobs.id, id));
    const [job] = await tx.update(bulkJobs).set({ status: COMPLETE_WHEN_DONE, finishedAt: FINISHED_WHEN_DONE }).where(eq(bulkJobs.id, id)).returning();
    return job;
  });
}

export type SwapOutcome = 'swapped' | 'changed' | 'no-room';

/** The copy as the job read it: the record must still say exactly this for a swap to go ahead. */
export interface ReadCopy {
  bucket: string;
  key: string;
  backendName: string;
  physicalKey: string;
  storedSize: number;
  encryption: CopyEncryption | null;
}

const sameEncryption = (encryption: CopyEncryption | null) =>
  encryption === null ? sql`${objectLocations.encryption} is null` : sql`${objectLocations.encryption} = ${JSON.stringify(encryption)}::jsonb`;

function isTheCopyRead(copy: ReadCopy): SQL | undefined {
  return and(
    eq(objectLocations.bucket, copy.bucket),
    eq(objectLocations.key, copy.key),
    eq(objectLocations.backendName, copy.backendName),
    eq(objectLocations.physicalKey, copy.physicalKey),
    sameEncryption(copy.encryption),
  );
}

/**
 * Points the copy's record at rewritten bytes (another physical key on the same backend, another size and
 * sealing), moving bytes_used by the size difference in the same transaction, and dropping the new bytes' cleanup
 * item (queued ahead of writing them): only while the record is still the copy that was read (a client's overwrite or delete, a drain or another job wins), and only when a growth fits
 * the backend's quota.
 */
export async function swapCopy(
  db: Db,
  copy: ReadCopy,
  rewritten: { physicalKey: string; storedSize: number; encryption: CopyEncryption | null },
  queuedAhead: number,
): Promise<SwapOutcome> {
  return db
    .transaction(async (tx) => {
      await lockKey(tx, copy.bucket, copy.key);
      const [row] = await tx.select({ backendName: objectLocations.backendName }).from(objectLocations).where(isTheCopyRead(copy));
      if (!row) return 'changed' as const;
      // The new bytes become a live copy: their cleanup item goes, and they stop counting as orphaned.
      await dropCleanupItem(tx, queuedAhead);
      const delta = rewritten.storedSize - copy.storedSize;
      const fits = await applyQuotaChanges(tx, [delta >= 0 ? { backendName: copy.backendName, reserve: delta } : { backendName: copy.backendName, release: -delta }]);
      if (!fits) throw new NoRoom();
      await tx
        .update(objectLocations)
        .set({ physicalKey: rewritten.physicalKey, storedSize: rewritten.storedSize, encryption: rewritten.encryption })
        .where(isTheCopyRead(copy));
      return 'swapped' as const;
    })
    .catch((err: unknown) => {
      if (err instanceof NoRoom) return 'no-room' as const;
      throw err;
    });
}

/** Whether the copy's record still says exactly what was read. */
export async function copyUnchanged(db: Queryable, copy: ReadCopy): Promise<boolean> {
  const rows = await db.select({ key: objectLocations.key }).from(objectLocations).where(isTheCopyRead(copy));
  return rows.length === 1;
}

/** Replaces a sealed copy's wrapped data key, only while the record still holds the one that was unwrapped. */
export async function rewrapCopy(db: Queryable, copy: ReadCopy, encryption: CopyEncryption): Promise<boolean> {
  const rows = await db.update(objectLocations).set({ encryption }).where(isTheCopyRead(copy)).returning({ key: objectLocations.key });
  return rows.length === 1;
}

class NoRoom extends Error {}
