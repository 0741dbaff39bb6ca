/**
 * Cron job: retries the physical deletes that failed (overwrites, deletes, aborts, failed records, drain
 * leftovers). A copy the database holds as live is never deleted, only dropped from the queue. A failure waits
 * 1 min x 2^(attempts-1), at most 24 h; after 10 attempts the item stays for an operator (admin cleanup-queue).
 * Idempotent: deletes are, and an item's bytes are released only by the run that removes it.
 */
import { mapBounded } from '../util/bounded.ts';
import { BackendError, describeError } from '../backends/client.ts';
import type { Services } from '../services/services.ts';
import { completeCleanup, dueCleanup, failCleanup, isLiveCopy } from '../store/cleanup.ts';
import type { CleanupRow } from '../store/schema.ts';
import type { JobInput } from './job.ts';

/** Items per cron run, and deletes at a time (each holds one of the invocation's six connections). */
const BATCH = 100;
const CONCURRENCY = 4;

export async function cleanupQueueJob(services: Services, input: JobInput): Promise<void> {
  const items = await dueCleanup(services.db(), new Date(input.scheduledTime), BATCH);
  const outcomes = await retryCleanupItems(services, items, CONCURRENCY);
  const deleted = outcomes.filter((o) => o.kind === 'deleted').length;
  const failed = outcomes.filter((o) => o.kind === 'failed').length;
  if (deleted > 0) services.counters.add('cleanup_processed:success', deleted);
  if (failed > 0) services.counters.add('cleanup_processed:error', failed);
  if (items.length > 0) services.log.info('cleanup queue processed', { items: items.length, deleted, failed });
}

export type CleanupOutcome = { kind: 'deleted' } | { kind: 'live' } | { kind: 'failed'; error: string };

/** Attempts at queued deletes, `concurrency` at a time (the cron's, and a drain's before it ends); one outcome each. */
export async function retryCleanupItems(services: Services, items: readonly CleanupRow[], concurrency: number): Promise<CleanupOutcome[]> {
  return mapBounded(items, concurrency, (item) => retryCleanupItem(services, item));
}

/**
 * Statuses with which a backend says it has no AbortMultipartUpload at all (s3rver answers 405): retrying cannot
 * help, so the upload is settled as gone and its parts stay on that backend's storage, untracked.
 */
export const CANNOT_ABORT: ReadonlySet<number> = new Set([405, 501]);

/** One attempt at a queued delete: never deletes a live copy. */
async function retryCleanupItem(services: Services, item: CleanupRow): Promise<CleanupOutcome> {
  const { log } = services;
  const db = services.db();
  if (await isLiveCopy(db, item.backendName, item.physicalKey)) {
    log.warn('cleanup item names a live copy; dropped from the queue without deleting', { id: item.id, backend: item.backendName, physical_key: item.physicalKey });
    await completeCleanup(db, item.id);
    return { kind: 'live' };
  }
  try {
    // A backend the configuration no longer has fails here, and the item waits for an operator like any other.
    const client = services.backend(item.backendName);
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
    await failCleanup(db, item, error, new Date(services.now()));
    return { kind: 'failed', error };
  }
}
