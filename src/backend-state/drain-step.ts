/**
 * One step of a backend's drain, run by its Durable Object's alarm: settle a move a crash interrupted, abort the
 * backend's multipart uploads, then move up to a batch of its copies off it. Every step is idempotent and saves
 * progress after each copy, so a crash or redeploy resumes where it stopped. A copy that has another copy
 * elsewhere is just dropped; otherwise its bytes are streamed to the least utilized active backend and the record
 * swapped by compare-and-swap, so a concurrent overwrite or delete wins and the stray copy is removed.
 */
import { BackendError, describeError } from '../backends/client.ts';
import { copyBytes } from '../backends/copy-bytes.ts';
import type { DrainProgress, PendingMove } from '../backends/backend-state.ts';
import { discardCopies } from '../objects/discard-copies.ts';
import { type Placement, placeCopy } from '../objects/placement.ts';
import type { Services } from '../services/services.ts';
import { finishDrain, recordedOn } from '../store/backend-states.ts';
import { type DrainCandidate, drainCandidates, dropRedundantCopy, moveCopy, uploadsOn } from '../store/drain.ts';
import { deleteUpload } from '../store/multipart.ts';
import { queuedCleanupOn } from '../store/cleanup.ts';
import { findObject } from '../store/objects.ts';
import { CANNOT_ABORT, retryCleanupItems } from '../jobs/cleanup-queue.ts';
import { DRAIN_BATCH, DRAIN_CONCURRENCY } from './drain-settings.ts';

/** How long a drain waits before another pass when copies could not be moved (no room, backend errors). */
export const DRAIN_RETRY_MS = 30_000;

export interface DrainStepInput {
  backend: string;
  /** Stop taking new copies after this time (ms since the epoch); the next alarm continues. */
  deadline: number;
  /** Persists progress; false when the drain was cancelled or restarted meanwhile, and the step must stop. */
  save(progress: DrainProgress): Promise<boolean>;
}

const NOT_PLACED: Record<Exclude<Placement, { ok: true }>['reason'], (size: number) => string> = {
  'no-room': (size) => `no active backend has room for ${size} bytes`,
  unavailable: (size) => `every backend with room for ${size} bytes is failing (circuit breaker open)`,
  'over-usage-limit': (size) => `every backend with room for ${size} bytes is over a monthly usage limit`,
};

export type DrainStepOutcome = { kind: 'continue' } | { kind: 'wait'; ms: number } | { kind: 'done' } | { kind: 'stopped' };

type Moved = { kind: 'moved'; bytes: number } | { kind: 'dropped' } | { kind: 'skipped' } | { kind: 'failed'; error: string; noRoom: boolean };

export async function drainStep(services: Services, input: DrainStepInput, start: DrainProgress): Promise<DrainStepOutcome> {
  const { backend } = input;
  const db = services.db();
  let progress = start;
  const save = async (next: DrainProgress) => {
    progress = next;
    return input.save(next);
  };

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
  for (let i = 0; i < batch.length; i += DRAIN_CONCURRENCY) {
    if (services.now() > input.deadline) return { kind: 'continue' };
    const chunk = batch.slice(i, i + DRAIN_CONCURRENCY);
    // Each pending move is saved (synchronously appended, then written) before its bytes are copied.
    const results = await Promise.all(chunk.map((copy) => moveOne(services, backend, copy, (pending) => save({ ...progress, pendingMoves: [...(progress.pendingMoves ?? []), pending] }))));
    if (results.includes('stopped')) return { kind: 'stopped' };
    const last = chunk[chunk.length - 1];
    let next: DrainProgress = { ...progress, pendingMoves: [], ...(last ? { cursor: { bucket: last.bucket, key: last.key } } : {}) };
    results.forEach((result, j) => {
      if (result === 'stopped') return;
      if (result.kind === 'moved') next = { ...next, objectsMoved: next.objectsMoved + 1, bytesMoved: next.bytesMoved + result.bytes };
      if (result.kind === 'dropped') next = { ...next, objectsMoved: next.objectsMoved + 1, copiesDropped: next.copiesDropped + 1 };
      if (result.kind === 'failed') {
        next = failed(services, next, result.error, result.noRoom);
        const copy = chunk[j];
        services.log.warn('drain could not move a copy; it is retried on the next pass', { backend, bucket: copy?.bucket, key: copy?.key, error: result.error });
      }
    });
    if (!(await save(next))) return { kind: 'stopped' };
  }
  if (batch.length === DRAIN_BATCH) return { kind: 'continue' };

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

async function moveOne(
  services: Services,
  backend: string,
  copy: DrainCandidate,
  markPending: (pending: PendingMove) => Promise<boolean>,
): Promise<Moved | 'stopped'> {
  const db = services.db();
  const sourceCopy = { backendName: backend, physicalKey: copy.physicalKey, storedSize: copy.storedSize };
  if (copy.otherBackends.length > 0) {
    if (!(await markPending({ bucket: copy.bucket, key: copy.key, physicalKey: copy.physicalKey }))) return 'stopped';
    if (!(await dropRedundantCopy(db, copy))) return { kind: 'skipped' };
    await discardCopies(services, [sourceCopy], 'drain_source_delete');
    return { kind: 'dropped' };
  }
  // Evened out over the backends that may take writes now (healthy, within usage limits), whatever the strategy.
  const placed = await placeCopy(services, copy.storedSize, { exclude: [backend], strategy: 'spread' });
  if (!placed.ok) return { kind: 'failed', error: NOT_PLACED[placed.reason](copy.storedSize), noRoom: placed.reason !== 'unavailable' };
  const target = placed.backend;

  if (!(await markPending({ bucket: copy.bucket, key: copy.key, physicalKey: copy.physicalKey, target }))) return 'stopped';
  const targetCopy = { backendName: target, physicalKey: copy.physicalKey, storedSize: copy.storedSize };
  try {
    await copyBytes(services.backend(backend), services.backend(target), copy.physicalKey, copy.storedSize);
  } catch (err) {
    await discardCopies(services, [targetCopy], 'drain_stale_orphan');
    // A client overwrote or deleted the object since this batch was read, and its old bytes are gone: nothing to move.
    if (err instanceof BackendError && err.status === 404 && !(await stillRecorded(services, copy))) return { kind: 'skipped' };
    return { kind: 'failed', error: `copy to ${target} failed: ${describeError(err)}`, noRoom: false };
  }
  const outcome = await moveCopy(db, copy, target);
  if (outcome === 'moved') {
    await discardCopies(services, [sourceCopy], 'drain_source_delete');
    return { kind: 'moved', bytes: copy.storedSize };
  }
  if (outcome === 'target-holds-it') return { kind: 'skipped' };
  // Overwritten, deleted or moved meanwhile (that write wins), or the target filled up: remove what was copied.
  await discardCopies(services, [targetCopy], 'drain_stale_orphan');
  return outcome === 'no-room' ? { kind: 'failed', error: `${target} filled up during the copy`, noRoom: true } : { kind: 'skipped' };
}

async function stillRecorded(services: Services, copy: DrainCandidate): Promise<boolean> {
  const object = await findObject(services.db(), copy.bucket, copy.key);
  return object?.locations.some((l) => l.backendName === copy.backendName && l.physicalKey === copy.physicalKey) ?? false;
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
