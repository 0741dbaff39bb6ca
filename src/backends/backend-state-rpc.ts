/** What the rest of the Worker may ask a backend's Durable Object (workers/backend-state.ts implements it). */
import type { BackendStateSnapshot } from './backend-state.ts';
import type { BreakerState } from './circuit-breaker.ts';
import type { Usage, UsageDelta } from './usage.ts';
import type { ControlResult } from './drain-control.ts';
import type { RemoveResult } from './remove-backend.ts';

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
  reportFailure(error: string): Promise<BreakerState>;
  reportSuccess(): Promise<BreakerState>;
  /** The half-open probe: true for the one caller that may try the backend now. */
  admitCall(): Promise<{ allowed: boolean; state: BreakerState }>;
  /** Reads served from a cached record while Postgres was unreachable (a fleet-wide total for /metrics). */
  countDegradedRead(): Promise<number>;
  degradedReads(): Promise<number>;
  /** The cron's nudge: re-arms the alarm of a drain that has none. */
  ensureAlarm(): Promise<void>;
}
