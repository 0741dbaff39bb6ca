/**
 * The breaker's home in the backend's Durable Object: one state for the whole fleet, changed one call at a time.
 * Opening (from closed) and closing are announced as notifications; a failed probe re-opening an open breaker is not
 * news.
 */
import { type BreakerSettings, type BreakerState, CLOSED, admit, recordFailure, recordSuccess } from '../backends/circuit-breaker.ts';
import type { NotificationEvent } from '../notify/cloud-event.ts';

/** Sends a notification (the Durable Object's notifier under the configuration in effect). */
export type Announce = (event: NotificationEvent) => void;

export interface BreakerStore {
  get(): Promise<BreakerState | undefined>;
  put(state: BreakerState): Promise<void>;
}

/** What a breaker uses while the configuration is unusable. */
export const DEFAULT_BREAKER: BreakerSettings = { failureThreshold: 5, openTimeoutMs: 60_000 };

export async function breakerState(store: BreakerStore): Promise<BreakerState> {
  return (await store.get()) ?? CLOSED;
}

export async function reportFailure(store: BreakerStore, settings: BreakerSettings, report: { backend: string; error: string; now: number }, announce: Announce): Promise<BreakerState> {
  const current = await breakerState(store);
  const next = recordFailure(current, settings, report.now, report.error);
  await store.put(next);
  if (current.state === 'closed' && next.state === 'open') {
    announce({
      type: 'backend.circuit.opened',
      subject: report.backend,
      data: { backend: report.backend, consecutive_failures: next.consecutiveFailures, last_error: next.lastError ?? null, retry_at: isoTime(next.retryAt) },
    });
  }
  return next;
}

export async function reportSuccess(store: BreakerStore, backend: string, now: number, announce: Announce): Promise<BreakerState> {
  const current = await breakerState(store);
  const next = recordSuccess(current);
  if (next !== current) await store.put(next);
  if (current.state !== 'closed' && next.state === 'closed') {
    announce({ type: 'backend.circuit.closed', subject: backend, data: { backend, unhealthy_since: isoTime(current.unhealthySince), closed_at: isoTime(now) } });
  }
  return next;
}

function isoTime(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** Asks to call the backend now: always while closed; as the one half-open probe once an open breaker's time is up. */
export async function admitCall(store: BreakerStore, now: number): Promise<{ allowed: boolean; state: BreakerState }> {
  const current = await breakerState(store);
  const { allowed, next } = admit(current, now);
  if (next !== current) await store.put(next);
  return { allowed, state: next };
}
