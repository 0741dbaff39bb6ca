/**
 * The fleet's trace window and the samples isolates send for it, kept by one Durable Object
 * (workers/trace-collector.ts). `admin trace` opens a window (`start`); isolates read it (`window`, cached per
 * isolate: trace-sampler.ts), sample requests while it is open and send them in batches (`add`); `report` sums them
 * up. A new window replaces the previous one and its samples. At most MAX_TRACE_SAMPLES are kept per window; later
 * ones are dropped and counted. Storage keys: `window` (the window and its counts) and `batch:<n, zero-padded>`
 * (one batch of samples each, as an isolate sent it).
 */
import { type SyncStorage, memorySyncStorage } from './sync-storage.ts';
import { randomHex } from '../crypto/encoding.ts';
import { type OperationSummary, type TraceSample, slowestSamples, summarise } from './trace-summary.ts';

export const MAX_TRACE_SAMPLES = 10_000;
/** The longest window `admin trace` may open. */
export const MAX_TRACE_SECONDS = 600;

export interface TraceWindow {
  id: string;
  started_at: string;
  ends_at: string;
  duration_seconds: number;
  /** The share of requests sampled, in (0, 1]. */
  sample: number;
}

export interface TraceReport {
  /** The last window opened (null before the first), and whether it is still open. */
  window: (TraceWindow & { open: boolean }) | null;
  /** Samples kept, and samples dropped beyond MAX_TRACE_SAMPLES (or by an isolate whose queue was full). */
  samples: number;
  dropped: number;
  operations: OperationSummary[];
  slowest: TraceSample[];
}

export interface TraceCollectorRpc {
  /** Opens a window from now, replacing the previous one and its samples. */
  start(durationSeconds: number, sample: number): Promise<TraceWindow>;
  /** The last window opened, open or not (null before the first). */
  window(): Promise<TraceWindow | null>;
  /** Keeps samples of window `windowId` (ignored when another window replaced it); `dropped` were lost on the way. */
  add(windowId: string, samples: TraceSample[], dropped: number): Promise<void>;
  report(): Promise<TraceReport>;
}

interface WindowRecord {
  window: TraceWindow;
  kept: number;
  dropped: number;
  batches: number;
}

const BATCH_PREFIX = 'batch:';
const batchKey = (n: number) => `${BATCH_PREFIX}${String(n).padStart(8, '0')}`;

/** The collector's rules, synchronous over synchronous storage (so the Durable Object can run each in one transaction). */
export type TraceCollectorRules = { [K in keyof TraceCollectorRpc]: (...args: Parameters<TraceCollectorRpc[K]>) => Awaited<ReturnType<TraceCollectorRpc[K]>> };

export function traceCollector(storage: SyncStorage, now: () => number): TraceCollectorRules {
  const current = () => storage.get<WindowRecord>('window');
  return {
    start(durationSeconds, sample) {
      // Listed first, deleted after: storage is not changed under its own listing.
      const previous = [...storage.list({ prefix: BATCH_PREFIX })].map(([key]) => key);
      for (const key of previous) storage.delete(key);
      const startedAt = now();
      const window: TraceWindow = {
        id: randomHex(8),
        started_at: new Date(startedAt).toISOString(),
        ends_at: new Date(startedAt + durationSeconds * 1000).toISOString(),
        duration_seconds: durationSeconds,
        sample,
      };
      storage.put('window', { window, kept: 0, dropped: 0, batches: 0 } satisfies WindowRecord);
      return window;
    },
    window() {
      return current()?.window ?? null;
    },
    add(windowId, samples, dropped) {
      const record = current();
      if (!record || record.window.id !== windowId) return;
      const kept = samples.slice(0, Math.max(0, MAX_TRACE_SAMPLES - record.kept));
      record.dropped += samples.length - kept.length + dropped;
      if (kept.length > 0) {
        record.batches += 1;
        record.kept += kept.length;
        storage.put(batchKey(record.batches), kept);
      }
      storage.put('window', record);
    },
    report() {
      const record = current();
      if (!record) return { window: null, samples: 0, dropped: 0, operations: [], slowest: [] };
      const samples = [...storage.list<TraceSample[]>({ prefix: BATCH_PREFIX })].flatMap(([, batch]) => batch);
      return {
        window: { ...record.window, open: now() < Date.parse(record.window.ends_at) },
        samples: record.kept,
        dropped: record.dropped,
        operations: summarise(samples),
        slowest: slowestSamples(samples),
      };
    },
  };
}

/** The collector as an RPC over in-memory storage, for tests and in-memory services. */
export function memoryTraceCollector(now: () => number): TraceCollectorRpc {
  const rules = traceCollector(memorySyncStorage(), now);
  return {
    start: async (durationSeconds, sample) => rules.start(durationSeconds, sample),
    window: async () => rules.window(),
    add: async (windowId, samples, dropped) => rules.add(windowId, samples, dropped),
    report: async () => rules.report(),
  };
}
