/**
 * Each isolate's view of the backends' circuit breakers: the states from the backends' Durable Objects, cached
 * for HEALTH_TTL_MS, and the outcomes of this isolate's backend calls reported back (failures always, successes
 * only while the cached state is not a clean "closed", so the hot path costs nothing when all is well).
 */
import type { Bindings } from '../runtime/bindings.ts';
import { type BackendClient, BackendError, describeError } from './client.ts';
import { type BreakerState, CLOSED, isBackendFault } from './circuit-breaker.ts';

export const HEALTH_TTL_MS = 5_000;

export interface BackendHealth {
  /** Makes sure the cached states of these backends are at most HEALTH_TTL_MS old. */
  refresh(names: readonly string[]): Promise<void>;
  state(name: string): BreakerState;
  /** Whether a write may go there now (closed breakers only; writes never probe). */
  writable(name: string): boolean;
  /** Whether a read may try it now: closed, or this caller got the half-open probe. */
  readable(name: string): Promise<boolean>;
  /** Counts a read served while the metadata store was down (kept in the backend's Durable Object). */
  countDegradedRead(name: string): Promise<void>;
  /** A client that reports each call's outcome to the backend's breaker. */
  track(client: BackendClient): BackendClient;
}

const cache = new Map<string, { state: BreakerState; fetchedAt: number }>();

export function createBackendHealth(bindings: Pick<Bindings, 'backendState' | 'waitUntil'>): BackendHealth {
  const remember = (name: string, state: BreakerState) => cache.set(name, { state, fetchedAt: Date.now() });
  const state = (name: string) => cache.get(name)?.state ?? CLOSED;
  const report = (name: string, err: unknown) => {
    if (err === undefined) {
      const current = state(name);
      if (current.state === 'closed' && current.consecutiveFailures === 0) return;
      bindings.waitUntil(bindings.backendState(name).reportSuccess().then((s) => remember(name, s)).catch(() => {}));
      return;
    }
    if (!(err instanceof BackendError) || !isBackendFault(err.status)) return;
    const call = bindings.backendState(name).reportFailure(describeError(err)).then((s) => remember(name, s));
    bindings.waitUntil(call.catch(() => {}));
  };
  return {
    async refresh(names) {
      const now = Date.now();
      const stale = [...new Set(names)].filter((n) => (cache.get(n)?.fetchedAt ?? 0) < now - HEALTH_TTL_MS);
      await Promise.all(
        stale.map(async (name) => {
          try {
            remember(name, await bindings.backendState(name).breaker());
          } catch {
            // Unknown is treated as healthy: a breaker must never be why every copy is refused.
          }
        }),
      );
    },
    state,
    writable: (name) => state(name).state === 'closed',
    async readable(name) {
      const current = state(name);
      if (current.state === 'closed') return true;
      if (current.state === 'open' && current.retryAt !== undefined && Date.now() < current.retryAt) return false;
      try {
        const { allowed, state: next } = await bindings.backendState(name).admitCall();
        remember(name, next);
        return allowed;
      } catch {
        return false;
      }
    },
    async countDegradedRead(name) {
      await bindings.backendState(name).countDegradedRead();
    },
    track(client) {
      const watched = <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
        async (...args: A): Promise<R> => {
          try {
            const result = await fn(...args);
            report(client.name, undefined);
            return result;
          } catch (err) {
            report(client.name, err);
            throw err;
          }
        };
      return {
        name: client.name,
        putObject: watched(client.putObject),
        getObject: watched(client.getObject),
        deleteObject: watched(client.deleteObject),
        copyObject: watched(client.copyObject),
        createMultipartUpload: watched(client.createMultipartUpload),
        uploadPart: watched(client.uploadPart),
        completeMultipartUpload: watched(client.completeMultipartUpload),
        abortMultipartUpload: watched(client.abortMultipartUpload),
      };
    },
  };
}
