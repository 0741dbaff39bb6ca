/**
 * Moving copies between backends, a batch at a time: the drain's and the rebalance's mover (and the drain's
 * dropping of copies that have another copy elsewhere). Each copy's stored bytes are streamed to its target under
 * the same physical key, then records are swapped by compare-and-swap (src/store/moves.ts), many moves to a
 * transaction. Both sides of every move are queued for deletion an hour ahead before a byte is written, so a crash
 * anywhere leaves nothing behind that the cleanup queue will not remove (it never deletes a copy the database holds
 * as live): the target's item goes with the swap, the source's once its bytes are deleted. A client's overwrite or
 * delete in between wins.
 *
 * The copies never wait for the database or for deletes: the copies that finished are swapped while the next ones
 * are being copied; whatever finishes meanwhile joins the next swap. The swapped copies' sources are deleted in
 * DeleteObjects calls of up to a thousand keys once SOURCE_DELETES_GATHERED are waiting, and at the batch's end:
 * one backend request per many copies instead of one each (fewer requests billed, fewer subrequests, and on a
 * shared machine less of the backend's CPU).
 */
import { DELETE_OBJECTS_MAX, describeError, fitsDeleteObjects } from '../backends/client.ts';
import { copyBytes } from '../backends/copy-bytes.ts';
import { writeRefusal } from '../backends/usage.ts';
import type { Services } from '../services/services.ts';
import { type CleanupReason, completeCleanups, deletesQueuedFor, dueNow, isLiveCopy, queueAheadMany } from '../store/cleanup.ts';
import type { DrainCandidate } from '../store/drain.ts';
import { type CopyMove, type MoveOutcome, NoRoomOnTarget, dropCopies, moveCopies, moveCopy } from '../store/moves.ts';
import type { PhysicalCopy } from '../store/objects.ts';
import { mapBounded } from '../util/bounded.ts';

/** Longer than an invocation may run, so bytes being copied are never deleted under the copier. */
export const PENDING_MOVE_MS = 60 * 60_000;

/** Outgoing connections an invocation may have open (Cloudflare's limit): a copy holds two, the database one. */
const CONNECTIONS = 6;

/** Swapped copies' sources wait until this many are gathered (or the copies are done), to go in one call. */
const SOURCE_DELETES_GATHERED = 100;
/**
 * Finished copies wait for their swap until this many are gathered, or for at most SWAP_WAIT_MS, or until the
 * copies are done: each swap is a transaction, and a swap per copy or two costs more than the copies.
 */
const SWAP_GATHERED = 16;
const SWAP_WAIT_MS = 1000;

export type MoveResult = { kind: 'moved'; bytes: number } | { kind: 'skipped'; why: string } | { kind: 'failed'; error: string; noRoom?: true };

export type DropResult = { kind: 'dropped' } | { kind: 'skipped'; why: string };

export interface Move {
  copy: DrainCandidate;
  to: string;
}

export interface MoveOptions {
  /** Copies at the same time. */
  concurrency: number;
  /** What the queued-ahead items are, in the cleanup queue: the source's bytes, and the target's until recorded. */
  reasons: { source: CleanupReason; target: CleanupReason };
  /** No copy starts after this time (ms since the epoch): the moves not started answer undefined. */
  deadline?: number;
  /** Asked before each copy starts; false stops starting copies, as the deadline does (a cancelled drain). */
  proceed?: () => Promise<boolean>;
  /** Told the copies moved so far in this batch after each swap and its deletes (a drain's progress report). */
  moved?: (so: { objects: number; bytes: number }) => Promise<void>;
  /** Whose moves these are, written on their queued-ahead items so the owner can settle them after a crash. */
  owner?: string;
}

interface Queued extends Move {
  index: number;
  sourceItem: number;
  targetItem: number;
}

/** Carries out a batch of moves; answers each move's result in order (undefined: not started, see MoveOptions). */
export async function moveBatch(services: Services, moves: readonly Move[], options: MoveOptions): Promise<(MoveResult | undefined)[]> {
  const db = services.db();
  const results: (MoveResult | undefined)[] = moves.map(() => ({ kind: 'skipped', why: 'not tried' }));
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
      { copy: sourceOf(m), reason: options.reasons.source },
      { copy: targetOf(m), reason: options.reasons.target },
    ]),
    PENDING_MOVE_MS,
    options.owner,
  );
  const queued: Queued[] = ready.map((m, i) => ({ ...m, sourceItem: items[2 * i]!, targetItem: items[2 * i + 1]! }));

  const done: number[] = [];
  const removeNow = async (bytes: PhysicalCopy, item: number) => {
    if (await removeQueued(services, bytes, item)) done.push(item);
  };
  let copying = true;
  const moved = { objects: 0, bytes: 0 };
  let sourceDeletes: QueuedDelete[] = [];
  const deleteSources = async (lanes: number) => {
    const now = sourceDeletes;
    sourceDeletes = [];
    done.push(...(await removeQueuedMany(services, now, lanes)));
  };

  // A swap that fails leaves its items queued: whether or not it committed, the queue deletes only what is not live.
  const settle = async (swapping: readonly Queued[]) => {
    const outcomes = await swap(services, swapping);
    // Deletes get the connections the copies and the database leave.
    const lanes = copying ? Math.max(1, CONNECTIONS - 1 - 2 * options.concurrency) : CONNECTIONS - 1;
    await mapBounded(swapping, lanes, async (m, i) => {
      const outcome = outcomes[i];
      if (outcome === 'moved') {
        services.memory.locations.forget(m.copy.bucket, m.copy.key);
        sourceDeletes.push({ bytes: sourceOf(m), item: m.sourceItem });
        results[m.index] = { kind: 'moved', bytes: m.copy.storedSize };
        moved.objects++;
        moved.bytes += m.copy.storedSize;
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
      results[m.index] = outcome === 'no-room' ? { kind: 'failed', error: `${m.to} filled up during the copy`, noRoom: true } : { kind: 'skipped', why: 'overwritten, deleted or moved meanwhile' };
    });
    if (!copying || sourceDeletes.length >= SOURCE_DELETES_GATHERED) await deleteSources(lanes);
    await options.moved?.({ ...moved });
  };
  const settling = serialBatches(settle, { gathered: SWAP_GATHERED, waitMs: SWAP_WAIT_MS, now: services.now });

  let stopped = false;
  await mapBounded(queued, options.concurrency, async (m) => {
    stopped ||= (options.deadline !== undefined && services.now() > options.deadline) || settling.failed() || (options.proceed !== undefined && !(await options.proceed()));
    if (stopped) {
      // Nothing of it was written: its two items go.
      results[m.index] = undefined;
      done.push(m.sourceItem, m.targetItem);
      return;
    }
    try {
      await copyBytes(services.backend(m.copy.backendName), services.backend(m.to), m.copy.physicalKey, m.copy.storedSize);
    } catch (err) {
      await removeNow(targetOf(m), m.targetItem);
      done.push(m.sourceItem);
      // A client's overwrite or delete removed the bytes being read: there is nothing to move any more.
      results[m.index] = (await isLiveCopy(db, m.copy.backendName, m.copy.physicalKey))
        ? { kind: 'failed', error: `copy ${m.copy.bucket}/${m.copy.key} from ${m.copy.backendName} to ${m.to} failed: ${describeError(err)}` }
        : { kind: 'skipped', why: 'overwritten or deleted meanwhile' };
      return;
    }
    settling.add(m);
  });
  copying = false;
  await settling.finished();
  await deleteSources(CONNECTIONS - 1);
  await completeCleanups(db, done);
  return results;
}

/**
 * Drops copies whose objects have another copy elsewhere (a drain's replicas), and deletes their bytes: queued ahead
 * first, so a crash between the drop and the delete leaves them to the cleanup queue. Answers each copy's result.
 */
export async function dropBatch(services: Services, copies: readonly DrainCandidate[], reason: CleanupReason): Promise<DropResult[]> {
  if (copies.length === 0) return [];
  const db = services.db();
  const items = await queueAheadMany(db, copies.map((c) => ({ copy: physicalCopy(c), reason })), PENDING_MOVE_MS);
  const dropped = await dropCopies(db, copies);
  const done = copies.flatMap((_, i) => (dropped[i] ? [] : [items[i]!]));
  // Nothing else runs meanwhile: every connection but the database's may delete.
  const deletes = copies.flatMap((copy, i) => (dropped[i] ? [{ bytes: physicalCopy(copy), item: items[i]! }] : []));
  done.push(...(await removeQueuedMany(services, deletes, CONNECTIONS - 1)));
  await completeCleanups(db, done);
  return dropped.map((d) => (d ? { kind: 'dropped' } : { kind: 'skipped', why: 'deleted, rewritten or become its only copy meanwhile' }));
}

interface QueuedDelete {
  bytes: PhysicalCopy;
  item: number;
}

/**
 * Deletes queued-ahead bytes now, per backend in DeleteObjects calls (one by one, `lanes` at a time, where a backend
 * has no DeleteObjects or the call failed); answers the items of the bytes gone. The others are due at once (the
 * queue retries them).
 */
async function removeQueuedMany(services: Services, deletes: readonly QueuedDelete[], lanes: number): Promise<number[]> {
  const gone: number[] = [];
  const oneByOne = async (some: readonly QueuedDelete[]) =>
    mapBounded(some, lanes, async (d) => {
      if (await removeQueued(services, d.bytes, d.item)) gone.push(d.item);
    });
  await oneByOne(deletes.filter((d) => !fitsDeleteObjects(d.bytes.physicalKey)));
  const byBackend = new Map<string, QueuedDelete[]>();
  for (const d of deletes.filter((d) => fitsDeleteObjects(d.bytes.physicalKey))) {
    const list = byBackend.get(d.bytes.backendName);
    if (list) list.push(d);
    else byBackend.set(d.bytes.backendName, [d]);
  }
  for (const [backendName, all] of byBackend) {
    for (let at = 0; at < all.length; at += DELETE_OBJECTS_MAX) {
      const chunk = all.slice(at, at + DELETE_OBJECTS_MAX);
      const answer = await services
        .backend(backendName)
        .deleteObjects(chunk.map((d) => d.bytes.physicalKey))
        .catch(() => undefined);
      // A failure named by a key not sent would leave unclear which were deleted: those go one by one again.
      const sent = new Set(chunk.map((d) => d.bytes.physicalKey));
      if (answer?.kind === 'answered' && [...answer.failed.keys()].every((key) => sent.has(key))) {
        for (const d of chunk) {
          if (answer.failed.has(d.bytes.physicalKey)) await dueNow(services.db(), d.item);
          else gone.push(d.item);
        }
        continue;
      }
      await oneByOne(chunk);
    }
  }
  return gone;
}

/** Deletes queued-ahead bytes now; true when they are gone, else their item is due at once (the queue retries). */
async function removeQueued(services: Services, bytes: PhysicalCopy, item: number): Promise<boolean> {
  try {
    await services.backend(bytes.backendName).deleteObject(bytes.physicalKey);
    return true;
  } catch {
    await dueNow(services.db(), item);
    return false;
  }
}

/**
 * Hands items to `settle` in batches, one batch at a time: a batch starts once `gathered` items wait, or `waitMs`
 * after the first of them was added (or after the previous batch began), or at `finished`; what is added while a
 * batch settles waits for the next. After a failure nothing more is settled (the items stay queued ahead), and
 * `finished` throws it.
 */
function serialBatches<T>(settle: (items: readonly T[]) => Promise<void>, pace: { gathered: number; waitMs: number; now: () => number }) {
  let waiting: T[] = [];
  let running: Promise<void> | undefined;
  let failure: { error: unknown } | undefined;
  let lastStarted = pace.now();
  let ending = false;
  // Set when items waited `waitMs`: they go even if no other item comes (the copies after them may hang).
  let overdue = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const due = () => ending || overdue || waiting.length >= pace.gathered || pace.now() - lastStarted >= pace.waitMs;
  const start = () => {
    running ??= run();
  };
  const armTimer = () => {
    timer ??= setTimeout(() => {
      timer = undefined;
      overdue = true;
      start();
    }, pace.waitMs);
  };
  const stopTimer = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  const run = async () => {
    try {
      while (waiting.length > 0 && !failure && due()) {
        const items = waiting;
        waiting = [];
        overdue = false;
        stopTimer();
        lastStarted = pace.now();
        await settle(items);
      }
    } catch (error) {
      failure = { error };
    } finally {
      running = undefined;
      if (waiting.length > 0 && !failure && !ending) armTimer();
    }
  };
  return {
    add(item: T) {
      waiting.push(item);
      if (due()) start();
      else if (!running) armTimer();
    },
    failed: () => failure !== undefined,
    async finished() {
      ending = true;
      stopTimer();
      while (running) await running;
      if (waiting.length > 0 && !failure) {
        start();
        await running;
      }
      if (failure) throw failure.error;
    },
  };
}

/** The batch's swap; when a target cannot take its whole share, the moves are swapped one by one instead. */
async function swap(services: Services, moves: readonly Queued[]): Promise<MoveOutcome[]> {
  const db = services.db();
  const batch: CopyMove[] = moves.map((m) => ({ copy: m.copy, to: m.to, queuedAhead: m.targetItem }));
  try {
    return await moveCopies(db, batch);
  } catch (err) {
    if (!(err instanceof NoRoomOnTarget)) throw err;
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

function physicalCopy(copy: DrainCandidate): PhysicalCopy {
  return { backendName: copy.backendName, physicalKey: copy.physicalKey, storedSize: copy.storedSize };
}

function sourceOf(m: Move): PhysicalCopy {
  return physicalCopy(m.copy);
}

function targetOf(m: Move): PhysicalCopy {
  return { ...sourceOf(m), backendName: m.to };
}
