/**
 * Usage in the backend's Durable Object: isolates report each call's delta; the object keeps the month's totals
 * (what limits are checked against) and writes what is new to Postgres's backend_usage every
 * `usage_flush.interval` (every `fast_interval` while a limit is nearly used up, when adaptive), on the next report
 * or the cron's nudge, whichever comes first.
 */
import { type Usage, type UsageDelta, addUsage, emptyUsage, limitPressure } from '../backends/usage.ts';
import type { BackendConfig, Config } from '../config/types.ts';
import { type OpenServices, withServices } from '../services/services.ts';
import { addBackendUsage } from '../store/quotas.ts';

export interface StoredUsage {
  usage: Usage;
  /** The part of `usage` already written to Postgres. */
  flushed: UsageDelta;
  lastFlushAt: number;
}

/** The Durable Object's storage for usage, and its flush in progress (one at a time). */
export interface UsageStore {
  get(): Promise<StoredUsage | undefined>;
  put(value: StoredUsage): Promise<void>;
  flushing?: Promise<void> | undefined;
}

const ZERO: UsageDelta = { apiRequests: 0, egressBytes: 0, ingressBytes: 0 };

export async function currentUsage(store: UsageStore, now: number): Promise<Usage> {
  return (await store.get())?.usage ?? emptyUsage(now);
}

/** What deciding on a flush needs: the flush settings and the backend's limits (undefined: no usable configuration). */
export interface UsageFlushSettings {
  usageFlush: Config['usageFlush'];
  limits: Pick<BackendConfig, 'apiRequestLimit' | 'egressByteLimit' | 'ingressByteLimit'> | undefined;
}

export interface RecordUsageDeps {
  /** The configuration in effect, cheaply (cached per isolate): read on every report. */
  settings(): Promise<UsageFlushSettings | undefined>;
  /** Services for a flush, opened only when one is due. */
  open: OpenServices;
  /** Keeps a flush going after the report is answered. */
  background(work: Promise<unknown>): void;
}

export async function recordUsage(store: UsageStore, backend: string, delta: UsageDelta, deps: RecordUsageDeps, now: number): Promise<Usage> {
  let stored = (await store.get()) ?? { usage: emptyUsage(now), flushed: ZERO, lastFlushAt: now };
  if (stored.usage.period !== emptyUsage(now).period) {
    // A new month: what the old one still owes Postgres goes first.
    await flushUsage(store, backend, deps.open, now);
    stored = { usage: emptyUsage(now), flushed: ZERO, lastFlushAt: now };
  }
  const next = { ...stored, usage: addUsage(stored.usage, delta, now) };
  await store.put(next);
  const settings = await deps.settings();
  if (settings) {
    const { usageFlush, limits } = settings;
    const fast = usageFlush.adaptiveEnabled && limits !== undefined && limitPressure(next.usage, limits) >= usageFlush.adaptiveThreshold;
    if (now - next.lastFlushAt >= (fast ? usageFlush.fastIntervalMs : usageFlush.intervalMs)) {
      deps.background(flushUsage(store, backend, deps.open, now).catch(() => {}));
    }
  }
  return next.usage;
}

/** Writes the usage not yet in Postgres. One flush at a time per backend; a failed one is simply retried later. */
export async function flushUsage(store: UsageStore, backend: string, open: OpenServices, now: number): Promise<void> {
  const running = store.flushing;
  if (running) return running;
  const work = (async () => {
    const stored = await store.get();
    if (!stored) return;
    const delta = {
      apiRequests: stored.usage.apiRequests - stored.flushed.apiRequests,
      egressBytes: stored.usage.egressBytes - stored.flushed.egressBytes,
      ingressBytes: stored.usage.ingressBytes - stored.flushed.ingressBytes,
    };
    if (delta.apiRequests === 0 && delta.egressBytes === 0 && delta.ingressBytes === 0) return;
    const written = await withServices(
      open,
      async (services) => {
        if (!(await addBackendUsage(services.db(), backend, stored.usage.period, delta))) {
          // Drained or removed: its bookkeeping rows are gone; the count stays here (admin status shows it).
          services.log.debug('usage of a retired backend not written to Postgres', { backend });
        }
        return true;
      },
      () => false,
    );
    if (!written) return;
    const latest = (await store.get()) ?? stored;
    const sameMonth = latest.usage.period === stored.usage.period;
    await store.put({
      ...latest,
      flushed: sameMonth
        ? { apiRequests: stored.flushed.apiRequests + delta.apiRequests, egressBytes: stored.flushed.egressBytes + delta.egressBytes, ingressBytes: stored.flushed.ingressBytes + delta.ingressBytes }
        : latest.flushed,
      lastFlushAt: now,
    });
  })().finally(() => {
    store.flushing = undefined;
  });
  store.flushing = work;
  return work;
}
