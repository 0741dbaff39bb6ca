/**
 * Rebalance moves, a batch at a time: each copy's stored bytes are streamed to its target under the same physical
 * key, then the records of the batch are swapped by compare-and-swap in one transaction (the drain's discipline,
 * src/store/drain.ts moveCopy, with the database round trips shared by the batch). Both sides of every move are
 * queued for deletion an hour ahead before a byte is written, so a crash anywhere leaves nothing behind that the
 * cleanup queue will not remove (it never deletes a copy the database holds as live): the target's item goes with
 * the swap, the source's once its bytes are deleted. A client's overwrite or delete in between wins.
 */
import { describeError } from '../backends/client.ts';
import { copyBytes } from '../backends/copy-bytes.ts';
import { writeRefusal } from '../backends/usage.ts';
import type { Services } from '../services/services.ts';
import { completeCleanups, deletesQueuedFor, dueNow, isLiveCopy, queueAheadMany } from '../store/cleanup.ts';
import { type MoveOutcome, moveCopy } from '../store/drain.ts';
import type { PhysicalCopy } from '../store/objects.ts';
import { type CopyMove, NoRoomForBatch, type RebalanceCandidate, moveCopies } from '../store/rebalance.ts';
import { mapBounded } from '../util/bounded.ts';

/** Longer than an invocation may run, so bytes being copied are never deleted under the copier. */
const PENDING_MOVE_MS = 60 * 60_000;

export type MoveResult = { kind: 'moved'; bytes: number } | { kind: 'skipped'; why: string } | { kind: 'failed'; error: string };

export interface Move {
  copy: RebalanceCandidate;
  to: string;
}

interface Queued extends Move {
  index: number;
  sourceItem: number;
  targetItem: number;
}

/** Carries out a batch of moves, `concurrency` copies at a time; answers each move's result in order. */
export async function moveBatch(services: Services, moves: readonly Move[], concurrency: number): Promise<MoveResult[]> {
  const db = services.db();
  const results: MoveResult[] = moves.map(() => ({ kind: 'skipped', why: 'not tried' }));
  const eligible: (Move & { index: number })[] = [];
  for (const [index, move] of moves.entries()) {
    const refusal = targetRefusal(services, move);
    if (refusal) results[index] = { kind: 'failed', error: refusal };
    else eligible.push({ ...move, index });
  }
  // Bytes under this key on the target that wait to be deleted (an earlier move off it) would take the new copy with them.
  const pending = await deletesQueuedFor(db, eligible.map((m) => ({ backendName: m.to, physicalKey: m.copy.physicalKey })));
  const ready = eligible.filter((m) => {
    if (!pending.has(`${m.to}\n${m.copy.physicalKey}`)) return true;
    results[m.index] = { kind: 'skipped', why: `a delete of an earlier copy on ${m.to} is still queued` };
    return false;
  });
  const items = await queueAheadMany(
    db,
    ready.flatMap((m) => [
      { copy: sourceOf(m), reason: 'rebalance_source_delete' as const },
      { copy: targetOf(m), reason: 'rebalance_pending' as const },
    ]),
    PENDING_MOVE_MS,
  );
  const queued: Queued[] = ready.map((m, i) => ({ ...m, sourceItem: items[2 * i]!, targetItem: items[2 * i + 1]! }));

  const done: number[] = [];
  const removeNow = async (bytes: PhysicalCopy, item: number) => {
    try {
      await services.backend(bytes.backendName).deleteObject(bytes.physicalKey);
      done.push(item);
    } catch {
      await dueNow(db, item);
    }
  };

  const copied = await mapBounded(queued, concurrency, async (m) => {
    try {
      await copyBytes(services.backend(m.copy.backendName), services.backend(m.to), m.copy.physicalKey, m.copy.storedSize);
      return m;
    } catch (err) {
      await removeNow(targetOf(m), m.targetItem);
      done.push(m.sourceItem);
      // A client's overwrite or delete removed the bytes being read: there is nothing to move any more.
      results[m.index] = (await isLiveCopy(db, m.copy.backendName, m.copy.physicalKey))
        ? { kind: 'failed', error: `copy ${m.copy.bucket}/${m.copy.key} from ${m.copy.backendName} to ${m.to} failed: ${describeError(err)}` }
        : { kind: 'skipped', why: 'overwritten or deleted meanwhile' };
      return undefined;
    }
  });
  const swapping = copied.filter((m): m is Queued => m !== undefined);
  // A swap that fails leaves its items queued: whether or not it committed, the queue deletes only what is not live.
  const outcomes = await swap(services, swapping);

  // Deletes hold one connection each (copies two): more of them at once fit the invocation's six.
  await mapBounded(swapping, concurrency * 2, async (m, i) => {
    const outcome = outcomes[i];
    if (outcome === 'moved') {
      services.memory.locations.forget(m.copy.bucket, m.copy.key);
      await removeNow(sourceOf(m), m.sourceItem);
      results[m.index] = { kind: 'moved', bytes: m.copy.storedSize };
      return;
    }
    done.push(m.sourceItem);
    if (outcome === 'target-holds-it') {
      // A replica or drain put this very copy there first: its bytes are live and stay.
      done.push(m.targetItem);
      results[m.index] = { kind: 'skipped', why: `${m.to} already holds the copy` };
      return;
    }
    await removeNow(targetOf(m), m.targetItem);
    results[m.index] = outcome === 'no-room' ? { kind: 'failed', error: `${m.to} filled up during the copy` } : { kind: 'skipped', why: 'overwritten, deleted or moved meanwhile' };
  });
  await completeCleanups(db, done);
  return results;
}

/** The batch's swap; when a target cannot take its whole share, the moves are swapped one by one instead. */
async function swap(services: Services, moves: readonly Queued[]): Promise<MoveOutcome[]> {
  const db = services.db();
  const batch: CopyMove[] = moves.map((m) => ({ copy: m.copy, to: m.to, queuedAhead: m.targetItem }));
  try {
    return await moveCopies(db, batch);
  } catch (err) {
    if (!(err instanceof NoRoomForBatch)) throw err;
    const outcomes: MoveOutcome[] = [];
    for (const m of moves) outcomes.push(await moveCopy(db, m.copy, m.to, { queuedAhead: m.targetItem }));
    return outcomes;
  }
}

/** Why the target may not take the copy now (the plan was made a moment ago), or undefined. */
function targetRefusal(services: Services, move: Move): string | undefined {
  const backend = services.config.backends.find((b) => b.name === move.to);
  if (!backend) return `backend ${move.to} is not in the configuration`;
  if (!services.health.writable(move.to)) return `${move.to} is failing (circuit breaker open)`;
  const refusal = writeRefusal(services.health.usage(move.to), backend, move.copy.storedSize, services.now());
  return refusal ? `${move.to} is over its ${refusal}` : undefined;
}

function sourceOf(m: Move): PhysicalCopy {
  return { backendName: m.copy.backendName, physicalKey: m.copy.physicalKey, storedSize: m.copy.storedSize };
}

function targetOf(m: Move): PhysicalCopy {
  return { ...sourceOf(m), backendName: m.to };
}
