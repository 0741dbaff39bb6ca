/**
 * The per-backend state kept in the backend's Durable Object, the one place every isolate asks: its mode and the
 * progress of its drain. The mode is mirrored into Postgres (backend_states) so placement reads it with free
 * space. Circuit breaker and usage counters join this state with their issues.
 */
import type { BackendMode } from '../store/schema.ts';

export interface DrainProgress {
  /** Increases with every start, so a step still running from a cancelled drain cannot write over a new one. */
  generation: number;
  startedAt: string;
  /** Copies that left the backend: moved to another backend, or dropped because another copy existed. */
  objectsMoved: number;
  bytesMoved: number;
  copiesDropped: number;
  /** Failed attempts (moves, aborts, steps) so far; each is retried on the next pass. */
  failures: number;
  lastError?: string;
  lastErrorAt?: string;
  /** The last pass could not place some copy anywhere; the drain waits and retries instead of spinning. */
  waitingForSpace: boolean;
  uploadsAborted: boolean;
  /** Keyset position in the current pass over the backend's copies. */
  cursor?: { bucket: string; key: string };
  passFailures: number;
  /** Some copy in the current pass found no room anywhere. */
  passNoRoom?: boolean;
  /**
   * Copies an earlier version was moving or dropping when it stopped: the next step removes whichever bytes are not
   * live. This version queues both sides in the cleanup queue instead and never writes it.
   */
  pendingMoves?: PendingMove[];
  completedAt?: string;
  cancelledAt?: string;
  /** backend.drain.failed was sent for this drain (it is sent once per drain). */
  troubleAnnounced?: boolean;
}

export interface PendingMove {
  bucket: string;
  key: string;
  physicalKey: string;
  /** Where the bytes are being copied to; absent when the copy is dropped because another backend holds the object. */
  target?: string;
}

export interface BackendStateSnapshot {
  mode: BackendMode;
  /** The current drain, or the last one (completed or cancelled). */
  drain?: DrainProgress;
}

/** Copies on an active or draining backend count toward the replication factor (retired ones do not). */
export function countsTowardFactor(mode: BackendMode): boolean {
  return mode === 'active' || mode === 'draining';
}

export function initialBackendState(): BackendStateSnapshot {
  return { mode: 'active' };
}

export function newDrain(previous: DrainProgress | undefined, now: Date): DrainProgress {
  return {
    generation: (previous?.generation ?? 0) + 1,
    startedAt: now.toISOString(),
    objectsMoved: 0,
    bytesMoved: 0,
    copiesDropped: 0,
    failures: 0,
    waitingForSpace: false,
    uploadsAborted: false,
    passFailures: 0,
  };
}

/** What drain-status answers (remaining counts come from the database). */
export function drainReport(state: BackendStateSnapshot, remaining: { objects: number; bytes: number; queuedDeletes: number }) {
  const drain = state.drain;
  return {
    mode: state.mode,
    active: state.mode === 'draining',
    objects_remaining: remaining.objects,
    bytes_remaining: remaining.bytes,
    deletes_queued: remaining.queuedDeletes,
    objects_moved: drain?.objectsMoved ?? 0,
    bytes_moved: drain?.bytesMoved ?? 0,
    copies_dropped: drain?.copiesDropped ?? 0,
    // A drained backend holds nothing: every failed attempt was retried until it succeeded. Its failures are then
    // history (failed_attempts_retried), not failures of the finished drain.
    failures: state.mode === 'drained' ? 0 : (drain?.failures ?? 0),
    ...(state.mode === 'drained' && drain?.failures ? { failed_attempts_retried: drain.failures } : {}),
    waiting_for_space: drain?.waitingForSpace ?? false,
    ...(drain?.lastError ? { last_error: drain.lastError, last_error_at: drain.lastErrorAt } : {}),
    ...(drain ? { started_at: drain.startedAt } : {}),
    ...(drain?.completedAt ? { completed_at: drain.completedAt } : {}),
    ...(drain?.cancelledAt ? { cancelled_at: drain.cancelledAt } : {}),
  };
}

export type DrainReport = ReturnType<typeof drainReport>;
