/**
 * One step of a backend's drain, run by its Durable Object's alarm: abort the backend's multipart uploads, then take
 * a batch of its copies off it, saving progress as its swaps commit and again after the batch. A copy that has another copy elsewhere is just
 * dropped; otherwise its bytes are streamed to the least utilized active backend and the record swapped by
 * compare-and-swap (src/jobs/move-batch.ts), so a concurrent overwrite or delete wins and the stray copy is removed.
 * Both sides of each move are in the cleanup queue before a byte is written, in the drain's name, so a crash or
 * redeploy anywhere leaves nothing behind: the next step settles what was not swapped, then resumes after the last
 * saved batch (its moves are idempotent).
 */
import { BackendError, describeError } from '../backends/client.ts';
import type { DrainProgress, PendingMove } from '../backends/backend-state.ts';
import { discardCopies } from '../objects/discard-copies.ts';
import { type Placement, placeCopies } from '../objects/placement.ts';
import type { Services } from '../services/services.ts';
import { finishDrain, recordedOn } from '../store/backend-states.ts';
import { type DrainCandidate, drainCandidates, uploadsOn } from '../store/drain.ts';
import { deleteUpload } from '../store/multipart.ts';
import { deletesQueuedFor, queuedCleanupOn, unfinishedMoves } from '../store/cleanup.ts';
import { findObject } from '../store/objects.ts';
import { CANNOT_ABORT, retryCleanupItems } from '../jobs/cleanup-queue.ts';
import { type DropResult, type Move, type MoveResult, dropBatch, moveBatch } from '../jobs/move-batch.ts';
import { DRAIN_BATCH, DRAIN_CONCURRENCY } from './drain-settings.ts';

/** How long a drain waits before another pass when copies could not be moved (no room, backend errors). */
export const DRAIN_RETRY_MS = 30_000;

export interface DrainStepInput {
  backend: string;
  /** Stop taking new copies after this time (ms since the epoch); the next alarm continues. */
  deadline: number;
  /** Persists progress; false when the drain was cancelled or restarted meanwhile, and the step must stop. */
  save(progress: DrainProgress): Promise<boolean>;
  /** False once the drain was cancelled or restarted: no more copies start. */
  current(): Promise<boolean>;
}

const NOT_PLACED: Record<Exclude<Placement, { ok: true }>['reason'], (size: number) => string> = {
  'no-room': (size) => `no active backend has room for ${size} bytes`,
  unavailable: (size) => `every backend with room for ${size} bytes is failing (circuit breaker open)`,
  'over-usage-limit': (size) => `every backend with room for ${size} bytes is over a monthly usage limit`,
};

/** Who queued a drain's moves ahead, in the cleanup queue: one drain of one backend. */
export function drainOwner(backend: string, generation: number): string {
  return `drain:${backend}:${generation}`;
}

export type DrainStepOutcome = { kind: 'continue' } | { kind: 'wait'; ms: number } | { kind: 'done' } | { kind: 'stopped' };

type Outcome = MoveResult | DropResult;

export async function drainStep(services: Services, input: DrainStepInput, start: DrainProgress): Promise<DrainStepOutcome> {
  const { backend } = input;
  const db = services.db();
  let progress = start;
  const save = async (next: DrainProgress) => {
    progress = next;
    return input.save(next);
  };

  // No move of this drain is under way as a step starts: what its earlier steps queued ahead and never swapped (a
  // crash, a failed swap) is settled now, so the next placement may use those targets again.
  const owner = drainOwner(backend, progress.generation);
  const unfinished = await unfinishedMoves(db, owner, 'drain_pending', 2 * DRAIN_BATCH);
  if (unfinished.length > 0) {
    services.log.warn('settling moves an interrupted drain step left unfinished', { backend, items: unfinished.length });
    await retryCleanupItems(services, unfinished, DRAIN_CONCURRENCY);
  }

  // Moves an earlier version of this step recorded in the object's storage instead of the cleanup queue.
  if (progress.pendingMoves?.length) {
    for (const pending of progress.pendingMoves) await settleInterruptedMove(services, backend, pending);
    if (!(await save({ ...progress, pendingMoves: [] }))) return { kind: 'stopped' };
  }

  if (!progress.uploadsAborted) {
    const source = services.backend(backend);
    for (const upload of await uploadsOn(db, backend)) {
      try {
        await source.abortMultipartUpload(upload.physicalKey, upload.backendUploadId);
        await deleteUpload(db, upload.uploadId);
      } catch (err) {
        if (err instanceof BackendError && CANNOT_ABORT.has(err.status)) {
          // A backend without AbortMultipartUpload (s3rver answers 405) would hold the drain forever. The upload
          // ends here (its client gets NoSuchUpload); its parts stay on the backend's storage, untracked.
          services.log.warn('backend cannot abort multipart uploads; upload dropped, its parts stay on the backend', { backend, upload_id: upload.uploadId, status: err.status });
          await deleteUpload(db, upload.uploadId);
          continue;
        }
        if (!(await save(failed(services, progress, `could not abort upload ${upload.uploadId}: ${describeError(err)}`, false)))) return { kind: 'stopped' };
      }
    }
    if (!(await save({ ...progress, uploadsAborted: true }))) return { kind: 'stopped' };
  }

  const batch = await drainCandidates(db, backend, progress.cursor, DRAIN_BATCH);
  if (batch.length > 0) {
    // Copies moved so far in the batch are reported as they go (admin drain-status); the batch's end recounts them.
    const base = progress;
    const report = (so: { objects: number; bytes: number; dropped: number }) =>
      input.save({ ...base, objectsMoved: base.objectsMoved + so.objects, bytesMoved: base.bytesMoved + so.bytes, copiesDropped: base.copiesDropped + so.dropped });
    const results = await moveOff(services, input, owner, batch, report);
    // Copies not started before the deadline are the batch's tail: the cursor stops before the first of them.
    const tried = results.indexOf(undefined) === -1 ? results.length : results.indexOf(undefined);
    const last = batch[tried - 1];
    let next: DrainProgress = { ...progress, ...(last ? { cursor: { bucket: last.bucket, key: last.key } } : {}) };
    results.forEach((result, j) => {
      if (result?.kind === 'moved') next = { ...next, objectsMoved: next.objectsMoved + 1, bytesMoved: next.bytesMoved + result.bytes };
      if (result?.kind === 'dropped') next = { ...next, objectsMoved: next.objectsMoved + 1, copiesDropped: next.copiesDropped + 1 };
      if (result?.kind === 'failed') {
        next = failed(services, next, result.error, result.noRoom ?? false);
        const copy = batch[j];
        services.log.warn('drain could not move a copy; it is retried on the next pass', { backend, bucket: copy?.bucket, key: copy?.key, error: result.error });
      }
    });
    if (!(await save(next))) return { kind: 'stopped' };
    if (tried < batch.length || batch.length === DRAIN_BATCH) return { kind: 'continue' };
  }

  // The end of a pass over the backend's copies.
  const left = await recordedOn(db, backend);
  if (left.objects === 0 && left.uploads === 0) {
    const queue = await clearQueuedDeletes(services, backend);
    if (queue.more) return { kind: 'continue' };
    if (queue.error) {
      if (!(await save(failed(services, progress, queue.error, false)))) return { kind: 'stopped' };
    } else if (await finishDrain(db, backend)) {
      await save({ ...progress, cursor: undefined, waitingForSpace: false, completedAt: new Date(services.now()).toISOString() });
      return { kind: 'done' };
    }
  }
  const retryLater = progress.passFailures > 0;
  const next: DrainProgress = {
    ...progress,
    cursor: undefined,
    passFailures: 0,
    passNoRoom: false,
    waitingForSpace: progress.passNoRoom ?? false,
    // Uploads that were being created as the drain started are aborted on the next pass.
    uploadsAborted: left.uploads === 0,
  };
  if (!(await save(next))) return { kind: 'stopped' };
  return retryLater ? { kind: 'wait', ms: DRAIN_RETRY_MS } : { kind: 'continue' };
}

/**
 * The deletes still queued on the backend (failed source deletes, interrupted moves) are tried now, whatever
 * their backoff: a drained backend's rows are dropped, and a forgotten delete would leave its bytes behind for good.
 * Returns the last failure, and whether a full batch may have more items behind it.
 */
async function clearQueuedDeletes(services: Services, backend: string): Promise<{ error?: string; more: boolean }> {
  const db = services.db();
  const items = await queuedCleanupOn(db, backend, DRAIN_BATCH);
  const outcomes = await retryCleanupItems(services, items, DRAIN_CONCURRENCY);
  const lastFailure = outcomes.findLast((o) => o.kind === 'failed');
  if (lastFailure?.kind === 'failed') return { error: `queued deletes on ${backend} still fail: ${lastFailure.error}`, more: false };
  return { more: items.length === DRAIN_BATCH };
}

function failed(services: Services, progress: DrainProgress, error: string, noRoom: boolean): DrainProgress {
  return {
    ...progress,
    failures: progress.failures + 1,
    passFailures: progress.passFailures + 1,
    lastError: error,
    lastErrorAt: new Date(services.now()).toISOString(),
    ...(noRoom ? { waitingForSpace: true, passNoRoom: true } : {}),
  };
}

/**
 * A batch of the backend's copies leaves it: those with another copy elsewhere are dropped, the others moved to the
 * least utilized backends that may take them (placed together, so the batch spreads). Answers each copy's result in
 * the batch's order; undefined for a copy not started before the deadline.
 */
async function moveOff(
  services: Services,
  input: DrainStepInput,
  owner: string,
  batch: readonly DrainCandidate[],
  report: (so: { objects: number; bytes: number; dropped: number }) => Promise<boolean>,
): Promise<(Outcome | undefined)[]> {
  const { backend } = input;
  const results: (Outcome | undefined)[] = batch.map(() => undefined);
  const redundant = batch.flatMap((copy, i) => (copy.otherBackends.length > 0 ? [i] : []));
  const dropped = await dropBatch(services, redundant.map((i) => batch[i]!), 'drain_source_delete');
  redundant.forEach((i, j) => (results[i] = dropped[j]));
  const droppedCount = dropped.filter((d) => d.kind === 'dropped').length;
  if (droppedCount > 0) await report({ objects: droppedCount, bytes: 0, dropped: droppedCount });

  const single = batch.flatMap((copy, i) => (copy.otherBackends.length === 0 ? [{ copy, i }] : []));
  if (single.length === 0) return results;
  // A target whose delete of the same physical key is still queued (an earlier move off it) is not one.
  const others = services.config.backends.map((b) => b.name).filter((name) => name !== backend);
  const queued = await deletesQueuedFor(services.db(), single.flatMap(({ copy }) => others.map((backendName) => ({ backendName, physicalKey: copy.physicalKey }))));
  const placements = await placeCopies(
    services,
    single.map(({ copy }) => ({ size: copy.storedSize, exclude: others.filter((name) => queued.has(`${name}\n${copy.physicalKey}`)) })),
    // Evened out over the backends that may take writes now (healthy, within usage limits), whatever the strategy.
    { exclude: [backend], strategy: 'spread' },
  );
  const moves: { move: Move; i: number }[] = [];
  single.forEach(({ copy, i }, j) => {
    const placed = placements[j]!;
    if (placed.ok) moves.push({ move: { copy, to: placed.backend }, i });
    else results[i] = { kind: 'failed', error: NOT_PLACED[placed.reason](copy.storedSize), ...(placed.reason !== 'unavailable' ? { noRoom: true as const } : {}) };
  });
  const moved = await moveBatch(
    services,
    moves.map((m) => m.move),
    {
      concurrency: DRAIN_CONCURRENCY,
      deadline: input.deadline,
      proceed: input.current,
      moved: async (so) => void (await report({ objects: droppedCount + so.objects, bytes: so.bytes, dropped: droppedCount })),
      owner,
      reasons: { source: 'drain_source_delete', target: 'drain_pending' },
    },
  );
  moves.forEach(({ i }, j) => (results[i] = moved[j]));
  return results;
}

/**
 * After a crash mid-move: whichever side the database no longer holds as live is removed. The record swap and
 * the source delete are separate steps, so a crash between them leaves the source's bytes behind; a crash
 * during the copy leaves the target's. Physical keys are never reused, so bytes not recorded are garbage.
 */
async function settleInterruptedMove(services: Services, source: string, pending: PendingMove): Promise<void> {
  const object = await findObject(services.db(), pending.bucket, pending.key);
  const isLive = (backendName: string) => object?.locations.some((l) => l.backendName === backendName && l.physicalKey === pending.physicalKey) ?? false;
  const stray = [source, pending.target]
    .filter((name): name is string => name !== undefined && services.config.backends.some((b) => b.name === name))
    .filter((name) => !isLive(name))
    .map((backendName) => ({ backendName, physicalKey: pending.physicalKey, storedSize: 0 }));
  await discardCopies(services, stray, 'drain_stale_orphan');
}
