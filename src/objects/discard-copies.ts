/**
 * Deletes physical copies the database no longer points at. Runs only after the transaction that dropped them
 * committed; a delete that fails goes to the cleanup queue, which keeps its bytes reserved until a retry succeeds.
 */
import { describeError } from '../backends/client.ts';
import type { Services } from '../services/services.ts';
import { type CleanupReason, enqueueCleanup } from '../store/cleanup.ts';
import type { PhysicalCopy } from '../store/objects.ts';
import { errorFields } from '../observe/log.ts';

export async function discardCopies(services: Services, copies: readonly PhysicalCopy[], reason: CleanupReason): Promise<void> {
  if (copies.length === 0) return;
  await services.timing.time('cleanup', () => discard(services, copies, reason));
}

async function discard(services: Services, copies: readonly PhysicalCopy[], reason: CleanupReason): Promise<void> {
  // A backend that cannot even be named (no longer configured) fails its own delete, which is queued like any other.
  const results = await Promise.allSettled(copies.map(async (c) => services.backend(c.backendName).deleteObject(c.physicalKey)));
  const failed = copies.flatMap((copy, i) => {
    const result = results[i];
    return result?.status === 'rejected' ? [{ copy, reason, error: describeError(result.reason) }] : [];
  });
  if (failed.length === 0) return;
  try {
    await enqueueCleanup(services.db(), failed);
    services.log.warn('backend delete failed; queued for cleanup', { reason, copies: failed.length });
  } catch (err) {
    // Nothing is lost (the object record is already correct), but these bytes now sit untracked on the backend.
    services.log.error('could not queue failed deletes for cleanup', {
      ...errorFields(err),
      reason,
      copies: failed.map((f) => `${f.copy.backendName}:${f.copy.physicalKey}`),
    });
  }
}
