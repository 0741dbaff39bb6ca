/**
 * Each isolate's view of the backends' circuit breakers and monthly usage: both from the backends' Durable
 * Objects, cached for HEALTH_TTL_MS. The outcomes of this isolate's backend calls are reported back (failures
 * always, successes only while the cached state is not a clean "closed"), and so is each call's usage (one API
 * request, plus the bytes sent or received), after the call, off the request's path.
 */
import type { BackendStateRpc } from './backend-state-rpc.ts';
import { type BackendClient, BackendError, describeError } from './client.ts';
import { type BreakerState, CLOSED, isBackendFault } from './circuit-breaker.ts';
import { type Usage, type UsageDelta, addUsage } from './usage.ts';
import { sendSpaced } from '../util/spaced-sends.ts';

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
  /**
   * This month's usage as last seen from the backend's object, plus what this isolate counted since and has not had
   * confirmed yet (undefined before the first refresh or report).
   */
  usage(name: string): Usage | undefined;
  /** A client that reports each call's outcome to the backend's breaker, and its usage. */
  track(client: BackendClient): BackendClient;
}

/** What an isolate keeps between requests (one instance, in src/runtime/isolate.ts). */
export interface HealthMemory {
  states: Map<string, { state: BreakerState; usage?: Usage; fetchedAt: number }>;
  /** Usage not yet reported, per backend; the report on its way, per backend; the backends being reported. */
  pendingUsage: Map<string, UsageDelta>;
  inFlightUsage: Map<string, UsageDelta>;
  sending: Set<string>;
}

export function createHealthMemory(): HealthMemory {
  return { states: new Map(), pendingUsage: new Map(), inFlightUsage: new Map(), sending: new Set() };
}

export interface HealthDeps {
  backendState(name: string): BackendStateRpc;
  waitUntil(promise: Promise<unknown>): void;
  now(): number;
  /** Hears of every call's outcome and duration (the backend request metrics); optional for tests. */
  observeCall?(call: { operation: string; backend: string; ok: boolean; seconds: number }): void;
  /** Waits `ms` (between usage reports). */
  sleep(ms: number): Promise<void>;
}

function sumUsage(a: UsageDelta, b: UsageDelta): UsageDelta {
  return { apiRequests: a.apiRequests + b.apiRequests, egressBytes: a.egressBytes + b.egressBytes, ingressBytes: a.ingressBytes + b.ingressBytes };
}

export function createBackendHealth(deps: HealthDeps, memory: HealthMemory): BackendHealth {
  const { states: cache, pendingUsage, inFlightUsage, sending } = memory;
  const remember = (name: string, state: BreakerState) => cache.set(name, { ...cache.get(name), state, fetchedAt: deps.now() });
  /**
   * Usage reports go spaced (src/util/spaced-sends.ts): at most a few per backend and second, whatever the
   * concurrency. Until a report is answered its usage counts in `usage()` all the same, so this isolate's limit
   * checks never wait for it.
   */
  const meter = (name: string, delta: UsageDelta) => {
    const waiting = pendingUsage.get(name);
    pendingUsage.set(name, waiting ? sumUsage(waiting, delta) : delta);
    const take = () => {
      const next = pendingUsage.get(name);
      pendingUsage.delete(name);
      return next;
    };
    sendSpaced(sending, name, deps, take, async (next) => {
      inFlightUsage.set(name, next);
      try {
        const usage = await deps.backendState(name).addUsage(name, next);
        const entry = cache.get(name);
        cache.set(name, { state: entry?.state ?? CLOSED, usage, fetchedAt: entry?.fetchedAt ?? 0 });
      } catch {
        // A report that fails is dropped (usage is then undercounted by it), never retried in a loop.
      } finally {
        inFlightUsage.delete(name);
      }
    });
  };
  const state = (name: string) => cache.get(name)?.state ?? CLOSED;
  const report = (name: string, err: unknown) => {
    if (err === undefined) {
      const current = state(name);
      if (current.state === 'closed' && current.consecutiveFailures === 0) return;
      deps.waitUntil(deps.backendState(name).reportSuccess(name).then((s) => remember(name, s)).catch(() => {}));
      return;
    }
    if (!(err instanceof BackendError) || !isBackendFault(err.status)) return;
    const call = deps.backendState(name).reportFailure(name, describeError(err)).then((s) => remember(name, s));
    deps.waitUntil(call.catch(() => {}));
  };
  return {
    async refresh(names) {
      const now = deps.now();
      const stale = [...new Set(names)].filter((n) => (cache.get(n)?.fetchedAt ?? 0) < now - HEALTH_TTL_MS);
      await Promise.all(
        stale.map(async (name) => {
          try {
            const status = await deps.backendState(name).status();
            cache.set(name, { state: status.breaker, usage: status.usage, fetchedAt: deps.now() });
          } catch {
            // Unknown is treated as healthy: a breaker must never be why every copy is refused.
          }
        }),
      );
    },
    state,
    usage(name) {
      const seen = cache.get(name)?.usage;
      const unconfirmed = [pendingUsage.get(name), inFlightUsage.get(name)].filter((d): d is UsageDelta => d !== undefined);
      if (unconfirmed.length === 0) return seen;
      return addUsage(seen, unconfirmed.reduce(sumUsage), deps.now());
    },
    writable: (name) => state(name).state === 'closed',
    async readable(name) {
      const current = state(name);
      if (current.state === 'closed') return true;
      if (current.state === 'open' && current.retryAt !== undefined && deps.now() < current.retryAt) return false;
      try {
        const { allowed, state: next } = await deps.backendState(name).admitCall();
        remember(name, next);
        return allowed;
      } catch {
        return false;
      }
    },
    async countDegradedRead(name) {
      await deps.backendState(name).countDegradedRead();
    },
    track(client) {
      const backend = client.name;
      const observe = (operation: string, started: number, ok: boolean) =>
        deps.observeCall?.({ operation, backend, ok, seconds: (deps.now() - started) / 1000 });
      /** `operation` is the S3 API name; `bytes` says what the call moved: sent (ingress) or received (egress), once it is known. */
      const watched =
        <A extends unknown[], R>(operation: string, fn: (...args: A) => Promise<R>, bytes?: (args: A, result: R | undefined) => Partial<UsageDelta>) =>
        async (...args: A): Promise<R> => {
          const started = deps.now();
          try {
            const result = await fn(...args);
            observe(operation, started, true);
            report(backend, undefined);
            meter(backend, { apiRequests: 1, egressBytes: 0, ingressBytes: 0, ...bytes?.(args, result) });
            return result;
          } catch (err) {
            observe(operation, started, false);
            report(backend, err);
            meter(backend, { apiRequests: 1, egressBytes: 0, ingressBytes: 0 });
            throw err;
          }
        };
      return {
        name: backend,
        putObject: watched('PutObject', client.putObject, (args) => ({ ingressBytes: args[2] })),
        getObject: watched('GetObject', client.getObject, (_, response) => ({ egressBytes: Number(response?.headers.get('content-length') ?? 0) })),
        deleteObject: watched('DeleteObject', client.deleteObject),
        deleteObjects: watched('DeleteObjects', client.deleteObjects),
        copyObject: watched('CopyObject', client.copyObject),
        createMultipartUpload: watched('CreateMultipartUpload', client.createMultipartUpload),
        uploadPart: watched('UploadPart', client.uploadPart, (args) => ({ ingressBytes: args[4] })),
        completeMultipartUpload: watched('CompleteMultipartUpload', client.completeMultipartUpload),
        listParts: watched('ListParts', client.listParts),
        abortMultipartUpload: watched('AbortMultipartUpload', client.abortMultipartUpload),
        listObjects: watched('ListObjectsV2', client.listObjects),
      };
    },
  };
}
