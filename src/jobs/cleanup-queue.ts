/**
 * Cron job: retries the physical deletes that failed (overwrites, deletes, aborts, failed records, drain
 * leftovers). A copy the database holds as live is never deleted, only dropped from the queue. A failure waits
 * 1 min x 2^(attempts-1), at most 24 h; after 10 attempts the item stays for an operator (admin cleanup-queue).
 * Idempotent: deletes are, and an item's bytes are released only by the run that removes it.
 */
import { mapBounded } from '../util/bounded.ts';
import { BackendError, type BackendClient, describeError } from '../backends/client.ts';
import type { Logger } from '../observe/log.ts';
import { completeCleanup, dueCleanup, failCleanup, isLiveCopy } from '../store/cleanup.ts';
import type { Db } from '../store/db.ts';
import type { CleanupRow } from '../store/schema.ts';
import type { JobContext } from './job.ts';

/** Items per cron run, and deletes at a time (each holds one of the invocation's six connections). */
const BATCH = 100;
const CONCURRENCY = 4;

export async function cleanupQueueJob(context: JobContext): Promise<void> {
  const db = context.db();
  const now = new Date(context.scheduledTime);
  const items = await dueCleanup(db, now, BATCH);
  const outcomes = await retryCleanupItems(db, context.backend, items, now, context.log, CONCURRENCY);
  const deleted = outcomes.filter((o) => o.kind === 'deleted').length;
  const failed = outcomes.filter((o) => o.kind === 'failed').length;
  if (deleted > 0) context.countEvent('cleanup_processed:success', deleted);
  if (failed > 0) context.countEvent('cleanup_processed:error', failed);
  if (items.length > 0) context.log.info('cleanup queue processed', { items: items.length, deleted, failed });
}

export type CleanupOutcome = { kind: 'deleted' } | { kind: 'live' } | { kind: 'failed'; error: string };

/** Attempts at queued deletes, `concurrency` at a time (the cron's, and a drain's before it ends); one outcome each. */
export async function retryCleanupItems(
  db: Db,
  clientFor: (backendName: string) => BackendClient | undefined,
  items: readonly CleanupRow[],
  now: Date,
  log: Logger,
  concurrency: number,
): Promise<CleanupOutcome[]> {
  return mapBounded(items, concurrency, (item) => retryCleanupItem(db, clientFor(item.backendName), item, now, log));
}

/**
 * Statuses with which a backend says it has no AbortMultipartUpload at all (s3rver answers 405): retrying cannot
 * help, so the upload is settled as gone and its parts stay on that backend's storage, untracked.
 */
export const CANNOT_ABORT: ReadonlySet<number> = new Set([405, 501]);

/** One attempt at a queued delete: never deletes a live copy. */
async function retryCleanupItem(db: Db, client: BackendClient | undefined, item: CleanupRow, now: Date, log: Logger): Promise<CleanupOutcome> {
  if (await isLiveCopy(db, item.backendName, item.physicalKey)) {
    log.warn('cleanup item names a live copy; dropped from the queue without deleting', { id: item.id, backend: item.backendName, physical_key: item.physicalKey });
    await completeCleanup(db, item.id);
    return { kind: 'live' };
  }
  try {
    if (!client) throw new Error(`backend ${item.backendName} is not in the configuration`);
    if (item.backendUploadId) {
      await client.abortMultipartUpload(item.physicalKey, item.backendUploadId).catch((err: unknown) => {
        if (!(err instanceof BackendError && CANNOT_ABORT.has(err.status))) throw err;
        log.warn('backend cannot abort multipart uploads; queued abort settled, its parts stay on the backend', { id: item.id, backend: item.backendName, status: err.status });
      });
    } else await client.deleteObject(item.physicalKey);
    await completeCleanup(db, item.id);
    return { kind: 'deleted' };
  } catch (err) {
    const error = describeError(err);
    await failCleanup(db, item, error, now);
    return { kind: 'failed', error };
  }
}
