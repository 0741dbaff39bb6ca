/**
 * One rebalance move: a copy's stored bytes are streamed to the target backend under the same physical key, and
 * the record is swapped by compare-and-swap (src/store/drain.ts moveCopy), as the drain moves copies. Both sides
 * are queued for deletion an hour ahead before a byte is written, so a crash anywhere leaves nothing behind that
 * the cleanup queue will not remove (it never deletes a copy the database holds as live): the target's item is
 * dropped by the swap, the source's after its bytes are deleted.
 */
import { describeError } from '../backends/client.ts';
import { copyBytes } from '../backends/copy-bytes.ts';
import { writeRefusal } from '../backends/usage.ts';
import type { Services } from '../services/services.ts';
import { completeCleanup, deleteQueuedFor, dueNow, isLiveCopy, queueAhead } from '../store/cleanup.ts';
import { moveCopy } from '../store/drain.ts';
import type { PhysicalCopy } from '../store/objects.ts';
import type { RebalanceCandidate } from '../store/rebalance.ts';

/** Longer than an invocation may run, so bytes being copied are never deleted under the copier. */
const PENDING_MOVE_MS = 60 * 60_000;

export type MoveResult = { kind: 'moved'; bytes: number } | { kind: 'skipped'; why: string } | { kind: 'failed'; error: string };

export async function moveCopyTo(services: Services, copy: RebalanceCandidate, target: string): Promise<MoveResult> {
  const db = services.db();
  const backendConfig = services.config.backends.find((b) => b.name === target);
  if (!backendConfig) return { kind: 'failed', error: `backend ${target} is not in the configuration` };
  // The plan was made a moment ago: the target may have failed or used up its month meanwhile.
  if (!services.health.writable(target)) return { kind: 'failed', error: `${target} is failing (circuit breaker open)` };
  const refusal = writeRefusal(services.health.usage(target), backendConfig, copy.storedSize, services.now());
  if (refusal) return { kind: 'failed', error: `${target} is over its ${refusal}` };
  // Bytes under this key on the target that wait to be deleted (an earlier move off it) would take the new copy with them.
  if (await deleteQueuedFor(db, target, copy.physicalKey)) return { kind: 'skipped', why: `a delete of an earlier copy on ${target} is still queued` };

  const source: PhysicalCopy = { backendName: copy.backendName, physicalKey: copy.physicalKey, storedSize: copy.storedSize };
  const moved: PhysicalCopy = { ...source, backendName: target };
  const sourceItem = await queueAhead(db, source, 'rebalance_source_delete', PENDING_MOVE_MS);
  const targetItem = await queueAhead(db, moved, 'rebalance_pending', PENDING_MOVE_MS);
  const removeNow = async (bytes: PhysicalCopy, item: number) => {
    try {
      await services.backend(bytes.backendName).deleteObject(bytes.physicalKey);
      await completeCleanup(db, item);
    } catch {
      await dueNow(db, item);
    }
  };

  try {
    await copyBytes(services.backend(copy.backendName), services.backend(target), copy.physicalKey, copy.storedSize);
  } catch (err) {
    await removeNow(moved, targetItem);
    await completeCleanup(db, sourceItem);
    // A client's overwrite or delete removed the bytes being read: there is nothing to move any more.
    if (!(await isLiveCopy(db, copy.backendName, copy.physicalKey))) return { kind: 'skipped', why: 'overwritten or deleted meanwhile' };
    return { kind: 'failed', error: `copy ${copy.bucket}/${copy.key} from ${copy.backendName} to ${target} failed: ${describeError(err)}` };
  }
  const outcome = await moveCopy(db, copy, target, { queuedAhead: targetItem }).catch(async (err: unknown) => {
    await removeNow(moved, targetItem);
    await completeCleanup(db, sourceItem);
    throw err;
  });
  if (outcome === 'moved') {
    services.memory.locations.forget(copy.bucket, copy.key);
    await removeNow(source, sourceItem);
    return { kind: 'moved', bytes: copy.storedSize };
  }
  await completeCleanup(db, sourceItem);
  // The target already holds this very copy (a replica or drain got there first): its bytes are live, and the
  // queue drops its item without deleting them.
  if (outcome === 'target-holds-it') {
    await completeCleanup(db, targetItem);
    return { kind: 'skipped', why: `${target} already holds the copy` };
  }
  await removeNow(moved, targetItem);
  if (outcome === 'no-room') return { kind: 'failed', error: `${target} filled up during the copy` };
  return { kind: 'skipped', why: 'overwritten, deleted or moved meanwhile' };
}
