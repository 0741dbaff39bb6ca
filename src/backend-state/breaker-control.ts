/** The breaker's home in the backend's Durable Object: one state for the whole fleet, changed one call at a time. */
import { type BreakerSettings, type BreakerState, CLOSED, admit, recordFailure, recordSuccess } from '../backends/circuit-breaker.ts';

export interface BreakerStore {
  get(): Promise<BreakerState | undefined>;
  put(state: BreakerState): Promise<void>;
}

/** What a breaker uses while the configuration is unusable. */
export const DEFAULT_BREAKER: BreakerSettings = { failureThreshold: 5, openTimeoutMs: 60_000 };

export async function breakerState(store: BreakerStore): Promise<BreakerState> {
  return (await store.get()) ?? CLOSED;
}

export async function reportFailure(store: BreakerStore, settings: BreakerSettings, error: string, now: number): Promise<BreakerState> {
  const next = recordFailure(await breakerState(store), settings, now, error);
  await store.put(next);
  return next;
}

export async function reportSuccess(store: BreakerStore): Promise<BreakerState> {
  const current = await breakerState(store);
  const next = recordSuccess(current);
  if (next !== current) await store.put(next);
  return next;
}

/** Asks to call the backend now: always while closed; as the one half-open probe once an open breaker's time is up. */
export async function admitCall(store: BreakerStore, now: number): Promise<{ allowed: boolean; state: BreakerState }> {
  const current = await breakerState(store);
  const { allowed, next } = admit(current, now);
  if (next !== current) await store.put(next);
  return { allowed, state: next };
}
