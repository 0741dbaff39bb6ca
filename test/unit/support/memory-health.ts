/**
 * The backends' circuit breakers and usage for domain tests, in memory: the same pure breaker
 * (src/backends/circuit-breaker.ts) the backends' Durable Objects apply, fed by every tracked call as it ends, so a
 * test sees the breaker open after `failure_threshold` failures without Durable Objects, caches or waitUntil.
 */
import type { BackendHealth } from '../../../src/backends/backend-health.ts';
import { type BackendClient, BackendError } from '../../../src/backends/client.ts';
import { type BreakerSettings, type BreakerState, CLOSED, admit, isBackendFault, recordFailure, recordSuccess } from '../../../src/backends/circuit-breaker.ts';
import type { Usage } from '../../../src/backends/usage.ts';

export interface MemoryHealth extends BackendHealth {
  /** Sets a backend's breaker (e.g. open since an hour, to test replication around a long-unhealthy backend). */
  setState(name: string, state: BreakerState): void;
  /** Sets this month's counted usage of a backend (to test monthly limits). */
  setUsage(name: string, usage: Usage): void;
  /** Reads served while the database was down, per backend. */
  readonly degradedReads: ReadonlyMap<string, number>;
}

export function createMemoryHealth(settings: BreakerSettings, now: () => number): MemoryHealth {
  const states = new Map<string, BreakerState>();
  const usages = new Map<string, Usage>();
  const degradedReads = new Map<string, number>();
  const state = (name: string) => states.get(name) ?? CLOSED;
  const report = (name: string, err: unknown) => {
    if (err === undefined) states.set(name, recordSuccess(state(name)));
    else if (err instanceof BackendError && isBackendFault(err.status)) states.set(name, recordFailure(state(name), settings, now(), err.message, 0.5));
  };
  return {
    degradedReads,
    setState: (name, next) => states.set(name, next),
    setUsage: (name, usage) => usages.set(name, usage),
    async refresh() {},
    state,
    usage: (name) => usages.get(name),
    writable: (name) => state(name).state === 'closed',
    async readable(name) {
      const { allowed, next } = admit(state(name), now());
      states.set(name, next);
      return allowed;
    },
    async countDegradedRead(name) {
      degradedReads.set(name, (degradedReads.get(name) ?? 0) + 1);
    },
    track(client) {
      const watched =
        <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
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
      const tracked: BackendClient = {
        name: client.name,
        putObject: watched(client.putObject),
        getObject: watched(client.getObject),
        deleteObject: watched(client.deleteObject),
        deleteObjects: watched(client.deleteObjects),
        copyObject: watched(client.copyObject),
        createMultipartUpload: watched(client.createMultipartUpload),
        uploadPart: watched(client.uploadPart),
        completeMultipartUpload: watched(client.completeMultipartUpload),
        listParts: watched(client.listParts),
        abortMultipartUpload: watched(client.abortMultipartUpload),
        listObjects: watched(client.listObjects),
      };
      return tracked;
    },
  };
}
