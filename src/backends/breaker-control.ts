/** The breaker's home in the backend's Durable Object: one state for the whole fleet, changed one call at a time. */
import { resolveActiveConfig } from '../runtime/active-config.ts';
import type { Bindings } from '../runtime/bindings.ts';
import { type BreakerSettings, type BreakerState, CLOSED, admit, recordFailure, recordSuccess } from './circuit-breaker.ts';

export interface BreakerStore {
  get(): Promise<BreakerState | undefined>;
  put(state: BreakerState): Promise<void>;
}

const DEFAULTS: BreakerSettings = { failureThreshold: 5, openTimeoutMs: 60_000 };

async function settings(bindings: Bindings): Promise<BreakerSettings> {
  const loaded = await resolveActiveConfig(bindings);
  return loaded.ok ? loaded.active.config.circuitBreaker : DEFAULTS;
}

export async function breakerState(store: BreakerStore): Promise<BreakerState> {
  return (await store.get()) ?? CLOSED;
}

export async function reportFailure(store: BreakerStore, bindings: Bindings, error: string): Promise<BreakerState> {
  const next = recordFailure(await breakerState(store), await settings(bindings), Date.now(), error);
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
export async function admitCall(store: BreakerStore): Promise<{ allowed: boolean; state: BreakerState }> {
  const current = await breakerState(store);
  const { allowed, next } = admit(current, Date.now());
  if (next !== current) await store.put(next);
  return { allowed, state: next };
}
