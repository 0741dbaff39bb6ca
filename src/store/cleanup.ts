/** The cleanup queue: physical copies that could not be deleted yet, with their bytes held in orphan_bytes. */
import { and, asc, desc, eq, inArray, lt, lte, sql } from 'drizzle-orm';
import { type Db, type Queryable, textTuples } from './db.ts';
import type { PhysicalCopy } from './objects.ts';
import { backendQuotas, type CleanupRow, cleanupQueue, multipartParts, multipartUploads, objectLocations } from './schema.ts';

export type CleanupReason = 'overwrite_displaced' | 'delete_failed' | 'record_failed' | 'upload_failed' | 'drain_source_delete' | 'drain_stale_orphan' | 'drain_pending' | 'replication_orphan' | 'over_replication' | 'abort_failed' | 'rewrite_replaced' | 'rewrite_pending' | 'rebalance_pending' | 'rebalance_source_delete' | 'integrity_scrub_failed' | 'integrity_read_failed' | 'reconcile_orphan';

export interface CleanupItem {
  copy: PhysicalCopy;
  reason: CleanupReason;
  error: string;
  /** For an upload whose abort failed: the backend's upload id to abort on retry. */
  backendUploadId?: string;
}

export async function enqueueCleanup(db: Db, items: CleanupItem[]): Promise<void> {
  if (items.length === 0) return;
  await db.transaction((tx) => enqueueIn(tx, items));
}

/**
 * An upload whose abort failed at the backend: its record goes (the client's abort succeeds and the parts stop
 * counting as in flight) and, in the same transaction, the backend upload is queued to be aborted again, its
 * parts' bytes held in orphan_bytes until that succeeds.
 */
export async function queueUploadAbort(db: Db, uploadId: string, error: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [upload] = await tx.select().from(multipartUploads).where(eq(multipartUploads.uploadId, uploadId)).for('update');
    if (!upload) return false;
    const [parts] = await tx
      .select({ bytes: sql<string>`coalesce(sum(${multipartParts.storedSize}), 0)` })
      .from(multipartParts)
      .where(eq(multipartParts.uploadId, uploadId));
    await tx.delete(multipartUploads).where(eq(multipartUploads.uploadId, uploadId));
    await enqueueIn(tx, [
      {
        copy: { backendName: upload.backendName, physicalKey: upload.physicalKey, storedSize: Number(parts?.bytes ?? 0) },
        reason: 'abort_failed',
        error,
        backendUploadId: upload.backendUploadId,
      },
    ]);
    return true;
  });
}

async function enqueueIn(tx: Queryable, items: CleanupItem[]): Promise<void> {
  await tx.insert(cleanupQueue).values(
    items.map((i) => ({
      backendName: i.copy.backendName,
      physicalKey: i.copy.physicalKey,
      reason: i.reason,
      size: i.copy.storedSize,
      lastError: i.error.slice(0, 1000),
      backendUploadId: i.backendUploadId ?? null,
    })),
  );
  // In backend order, like every multi-backend quota update, so it cannot deadlock with them.
  for (const item of [...items].sort((a, b) => (a.copy.backendName < b.copy.backendName ? -1 : a.copy.backendName > b.copy.backendName ? 1 : 0))) {
    await tx
      .update(backendQuotas)
      .set({ orphanBytes: sql`${backendQuotas.orphanBytes} + ${item.copy.storedSize}`, updatedAt: sql`now()` })
      .where(sql`${backendQuotas.backendName} = ${item.copy.backendName}`);
  }
}

/** Items stop being retried after this many failed attempts and stay for an operator to inspect. */
export const CLEANUP_MAX_ATTEMPTS = 10;
const RETRY_BASE_MS = 60_000;
const RETRY_CAP_MS = 24 * 60 * 60_000;

/** The wait before the next attempt after `attempts` failures: 1 min x 2^(attempts-1), at most 24 h. */
export function cleanupBackoffMs(attempts: number): number {
  return Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

/** Items due for another attempt, oldest first. */
export async function dueCleanup(db: Queryable, now: Date, limit: number): Promise<CleanupRow[]> {
  return db
    .select()
    .from(cleanupQueue)
    .where(and(lte(cleanupQueue.nextRetry, now), lt(cleanupQueue.attempts, CLEANUP_MAX_ATTEMPTS)))
    .orderBy(asc(cleanupQueue.nextRetry), asc(cleanupQueue.id))
    .limit(limit);
}

/** Every queued item on one backend, due or not (a drain clears them before it ends). */
export async function queuedCleanupOn(db: Queryable, backendName: string, limit: number): Promise<CleanupRow[]> {
  return db.select().from(cleanupQueue).where(eq(cleanupQueue.backendName, backendName)).orderBy(asc(cleanupQueue.id)).limit(limit);
}

/** Whether the database holds this physical copy as a live copy (then it must never be deleted). */
export async function isLiveCopy(db: Queryable, backendName: string, physicalKey: string): Promise<boolean> {
  const rows = await db
    .select({ key: objectLocations.key })
    .from(objectLocations)
    .where(and(eq(objectLocations.backendName, backendName), eq(objectLocations.physicalKey, physicalKey)))
    .limit(1);
  return rows.length > 0;
}

/** The item is done (deleted, or found live): it leaves the queue and its bytes stop counting as orphaned. */
export async function completeCleanup(db: Db, id: number): Promise<void> {
  await db.transaction((tx) => dropCleanupItem(tx, id));
}

/** Removes a queue item and gives back its orphaned bytes; only the call that removes the row does, so twice is once. */
export async function dropCleanupItem(tx: Queryable, id: number): Promise<void> {
  const row = await takeCleanupItem(tx, id);
  if (!row) return;
  await tx
    .update(backendQuotas)
    .set({ orphanBytes: sql`greatest(0, ${backendQuotas.orphanBytes} - ${row.size})`, updatedAt: sql`now()` })
    .where(eq(backendQuotas.backendName, row.backendName));
}

/**
 * Removes a queue item's row only, answering whose orphaned bytes it held: for a transaction that gives them back
 * together with its other quota changes (in backend order, see applyQuotaChanges).
 */
export async function takeCleanupItem(tx: Queryable, id: number): Promise<{ backendName: string; size: number } | undefined> {
  const [row] = await tx.delete(cleanupQueue).where(eq(cleanupQueue.id, id)).returning({ backendName: cleanupQueue.backendName, size: cleanupQueue.size });
  return row;
}

/**
 * Which of these physical copies have a delete queued ("backend\nphysical key"): another copy written there now
 * could be deleted by it.
 */
export async function deletesQueuedFor(db: Queryable, copies: readonly { backendName: string; physicalKey: string }[]): Promise<Set<string>> {
  if (copies.length === 0) return new Set();
  const rows = await db
    .select({ backendName: cleanupQueue.backendName, physicalKey: cleanupQueue.physicalKey })
    .from(cleanupQueue)
    .where(
      sql`(${cleanupQueue.backendName}, ${cleanupQueue.physicalKey}) in (${textTuples(['b', 'p'], copies.map((c) => [c.backendName, c.physicalKey]))})`,
    );
  return new Set(rows.map((r) => `${r.backendName}\n${r.physicalKey}`));
}

/**
 * queueAhead for many copies in one transaction (a batch of moves): answers their item ids in the same order.
 * Orphaned bytes are added once per backend, in backend order.
 */
export async function queueAheadMany(db: Db, items: readonly { copy: PhysicalCopy; reason: CleanupReason }[], dueInMs: number, owner?: string): Promise<number[]> {
  if (items.length === 0) return [];
  return db.transaction(async (tx) => {
    const rows = await tx
      .insert(cleanupQueue)
      .values(
        items.map(({ copy, reason }) => ({
          backendName: copy.backendName,
          physicalKey: copy.physicalKey,
          reason,
          size: copy.storedSize,
          nextRetry: sql`now() + make_interval(secs => ${dueInMs / 1000})`,
          lastError: 'written by a job that had not recorded it yet',
          owner: owner ?? null,
        })),
      )
      .returning({ id: cleanupQueue.id });
    await addOrphanBytes(tx, items.map((i) => ({ backendName: i.copy.backendName, size: i.copy.storedSize })), 1);
    // Postgres returns a multi-row insert's rows in the order of its values.
    return rows.map((r) => r.id);
  });
}

/**
 * Both items of every move `owner` queued ahead and never swapped: its target item (`targetReason`) is still
 * queued, so its target bytes are not live, and its source copy is live unless a client changed the object since.
 */
export async function unfinishedMoves(db: Queryable, owner: string, targetReason: CleanupReason, limit: number): Promise<CleanupRow[]> {
  return db
    .select()
    .from(cleanupQueue)
    .where(
      and(
        eq(cleanupQueue.owner, owner),
        sql`${cleanupQueue.physicalKey} in (select p.physical_key from ${cleanupQueue} p where p.owner = ${owner} and p.reason = ${targetReason})`,
      ),
    )
    .orderBy(asc(cleanupQueue.id))
    .limit(limit);
}

/** completeCleanup for many items in one transaction. */
export async function completeCleanups(db: Db, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.transaction(async (tx) => {
    const removed = await tx.delete(cleanupQueue).where(inArray(cleanupQueue.id, [...ids])).returning({ backendName: cleanupQueue.backendName, size: cleanupQueue.size });
    await addOrphanBytes(tx, removed, -1);
  });
}

/** Adds (sign 1) or gives back (sign -1) orphaned bytes, one update per backend in backend order (no deadlocks). */
async function addOrphanBytes(tx: Queryable, amounts: readonly { backendName: string; size: number }[], sign: 1 | -1): Promise<void> {
  const perBackend = new Map<string, number>();
  for (const a of amounts) perBackend.set(a.backendName, (perBackend.get(a.backendName) ?? 0) + a.size);
  for (const [backendName, size] of [...perBackend].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    await tx
      .update(backendQuotas)
      .set({ orphanBytes: sql`greatest(0, ${backendQuotas.orphanBytes} + ${sign * size})`, updatedAt: sql`now()` })
      .where(eq(backendQuotas.backendName, backendName));
  }
}

/**
 * Queues bytes about to be written (a rewrite's new copy) for deletion `dueInMs` from now, before they are written:
 * if whoever writes them dies before recording them, the queue removes them then; once recorded they are a live
 * copy, which the queue never deletes (and the recording drops the item). Their bytes count as orphaned meanwhile.
 */
export async function queueAhead(db: Db, copy: PhysicalCopy, reason: CleanupReason, dueInMs: number): Promise<number> {
  return db.transaction((tx) => queueCopyIn(tx, copy, reason, { dueInMs, note: 'written by a job that had not recorded it yet' }));
}

/** Queues one copy inside the caller's transaction (its bytes move to orphan_bytes there); returns the item's id. */
export async function queueCopyIn(tx: Queryable, copy: PhysicalCopy, reason: CleanupReason, options: { dueInMs: number; note: string }): Promise<number> {
  const [row] = await tx
    .insert(cleanupQueue)
    .values({
      backendName: copy.backendName,
      physicalKey: copy.physicalKey,
      reason,
      size: copy.storedSize,
      nextRetry: sql`now() + make_interval(secs => ${options.dueInMs / 1000})`,
      lastError: options.note,
    })
    .returning({ id: cleanupQueue.id });
  await tx
    .update(backendQuotas)
    .set({ orphanBytes: sql`${backendQuotas.orphanBytes} + ${copy.storedSize}`, updatedAt: sql`now()` })
    .where(eq(backendQuotas.backendName, copy.backendName));
  return row!.id;
}

/** A queued-ahead item whose bytes could not be deleted now: due at once, retried with the usual backoff. */
export async function dueNow(db: Queryable, id: number): Promise<void> {
  await db.update(cleanupQueue).set({ nextRetry: sql`now()` }).where(eq(cleanupQueue.id, id));
}

/** Another failed attempt: counted, with its error, and the next try pushed out by the backoff. */
export async function failCleanup(db: Queryable, item: Pick<CleanupRow, 'id' | 'attempts'>, error: string, now: Date): Promise<void> {
  const attempts = item.attempts + 1;
  await db
    .update(cleanupQueue)
    .set({ attempts, lastError: error.slice(0, 1000), nextRetry: new Date(now.getTime() + cleanupBackoffMs(attempts)) })
    // Unchanged since it was read: a second run of the same tick does not count the failure twice.
    .where(and(eq(cleanupQueue.id, item.id), eq(cleanupQueue.attempts, item.attempts)));
}

export interface CleanupOverview {
  depth: number;
  due: number;
  stuck: number;
  items: CleanupRow[];
}

/** What `admin cleanup-queue` shows: counts, and the first items (stuck ones first, then by next attempt). */
export async function cleanupOverview(db: Queryable, now: Date, limit: number): Promise<CleanupOverview> {
  const [counts] = await db
    .select({
      depth: sql<string>`count(*)`,
      due: sql<string>`count(*) filter (where ${cleanupQueue.nextRetry} <= ${now.toISOString()}::timestamptz and ${cleanupQueue.attempts} < ${CLEANUP_MAX_ATTEMPTS})`,
      stuck: sql<string>`count(*) filter (where ${cleanupQueue.attempts} >= ${CLEANUP_MAX_ATTEMPTS})`,
    })
    .from(cleanupQueue);
  const items = await db
    .select()
    .from(cleanupQueue)
    .orderBy(desc(sql`${cleanupQueue.attempts} >= ${CLEANUP_MAX_ATTEMPTS}`), asc(cleanupQueue.nextRetry), asc(cleanupQueue.id))
    .limit(limit);
  return { depth: Number(counts?.depth ?? 0), due: Number(counts?.due ?? 0), stuck: Number(counts?.stuck ?? 0), items };
}
