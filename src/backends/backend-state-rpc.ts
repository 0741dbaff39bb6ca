/** What the rest of the Worker may ask a backend's Durable Object (workers/backend-state.ts implements it). */
import type { BackendStateSnapshot } from './backend-state.ts';
import type { BreakerState } from './circuit-breaker.ts';
import type { Usage, UsageDelta } from './usage.ts';

/**
 * Why a backend's Durable Object refused a request: the backend is not configured, the request conflicts with
 * its state (draining, already removed), the orchestrator's configuration is unusable, or a purge's confirmation
 * token is wrong, used or expired. The admin API maps each to its HTTP status in one place.
 */
export type ControlRefusal = 'unknown-backend' | 'conflict' | 'unconfigured' | 'bad-token';

export type ControlResult =
  | { ok: true; status: string; state: BackendStateSnapshot }
  | { ok: false; reason: Exclude<ControlRefusal, 'bad-token'>; error: string };

export type RemoveResult = { ok: true; body: Record<string, unknown> } | { ok: false; reason: ControlRefusal; error: string };

export interface BackendStateRpc {
  snapshot(): Promise<BackendStateSnapshot>;
  startDrain(backend: string): Promise<ControlResult>;
  cancelDrain(backend: string): Promise<ControlResult>;
  markRemoved(backend: string): Promise<ControlResult>;
  /** remove-backend: records only, a purge preview with a confirmation token, or (with the token) a purge. */
  removeBackend(backend: string, request: { purge: boolean; confirm?: string | undefined }): Promise<RemoveResult>;
  breaker(): Promise<BreakerState>;
  /** The breaker and this month's counted usage, in one call (what isolates cache). */
  status(): Promise<{ breaker: BreakerState; usage: Usage }>;
  /** Adds a call's usage (reported by isolates after each backend call); answers the new totals. */
  addUsage(backend: string, delta: UsageDelta): Promise<Usage>;
  /** Writes counted usage not yet in Postgres (the cron's nudge). */
  flushUsage(backend: string): Promise<void>;
  reportFailure(backend: string, error: string): Promise<BreakerState>;
  reportSuccess(backend: string): Promise<BreakerState>;
  /** The half-open probe: true for the one caller that may try the backend now. */
  admitCall(): Promise<{ allowed: boolean; state: BreakerState }>;
  /** Reads served from a cached record while Postgres was unreachable (a fleet-wide total for /metrics). */
  countDegradedRead(): Promise<number>;
  degradedReads(): Promise<number>;
  /** True for the one caller that may send this backend's capacity warning now (at most hourly, fleet-wide). */
  claimCapacityWarning(now: number): Promise<boolean>;
  /** The cron's nudge: re-arms the alarm of a drain that has none. */
  ensureAlarm(): Promise<void>;
}
