/**
 * One isolate's request and backend-call counts, kept in memory and handed to its metrics shard in batches (never
 * one call per request): the first count after FLUSH_INTERVAL_MS since the last batch sends the next one through
 * waitUntil, off the request's path. A batch the shard did not confirm is sent again with the same number (the
 * shard applies each number once, metrics-shard.ts), so a retry never counts twice; while the shard stays
 * unreachable at most MAX_UNCONFIRMED batches wait and the oldest are dropped (an undercount, never an overcount).
 */
import { randomHex } from '../crypto/encoding.ts';
import { METRICS_SHARDS, type MetricsBatch } from './metrics-shard.ts';
import {
  type CounterDefinition,
  type FamilyDefinition,
  type HistogramDefinition,
  type SeriesValues,
  bucketIndex,
  emptyValues,
  seriesKey,
} from './request-metric-families.ts';

/** The staleness bound of /metrics for the request families (plus the time an isolate waits for its next request). */
export const FLUSH_INTERVAL_MS = 5_000;
const MAX_UNCONFIRMED = 24;

/** Sends batches to this isolate's shard; answers the last batch number the shard has applied. */
export type SendBatches = (isolate: string, shard: number, batches: MetricsBatch[]) => Promise<number>;

export interface FlushOutcome {
  isolate: string;
  shard: number;
  /** Batches the shard confirmed in this flush. */
  confirmed: number;
  /** Batches still waiting for a confirmation (0 after a flush that reached the shard). */
  unconfirmed: number;
}

export interface MetricsRecorder {
  count(family: CounterDefinition, labels: readonly string[], by?: number): void;
  observe(family: HistogramDefinition, labels: readonly string[], value: number): void;
  /** Starts a flush (through waitUntil) when FLUSH_INTERVAL_MS has passed since the last one. */
  flushIfDue(now: number, send: SendBatches, waitUntil: (promise: Promise<unknown>) => void): void;
  /** Flushes now; resolves once the shard answered (or failed). Flushes run one at a time, in order. */
  flush(now: number, send: SendBatches): Promise<FlushOutcome>;
}

export function createMetricsRecorder(): MetricsRecorder {
  let pending = new Map<string, SeriesValues>();
  let unconfirmed: MetricsBatch[] = [];
  let seq = 0;
  let lastFlushAt: number | undefined;
  let queue: Promise<unknown> = Promise.resolve();
  // Chosen on first use, not at module load (Workers refuse randomness in the global scope).
  let identity: { id: string; shard: number } | undefined;
  const self = () => (identity ??= { id: randomHex(8), shard: Math.floor(Math.random() * METRICS_SHARDS) });

  const series = (family: FamilyDefinition, labels: readonly string[]): SeriesValues => {
    const key = seriesKey(family, labels);
    let values = pending.get(key);
    if (!values) pending.set(key, (values = emptyValues(family)));
    return values;
  };

  /** What was counted so far becomes the next numbered batch (at once, so later counts go in the one after). */
  const seal = () => {
    if (pending.size === 0) return;
    unconfirmed.push({ seq: ++seq, series: Object.fromEntries(pending) });
    pending = new Map();
    if (unconfirmed.length > MAX_UNCONFIRMED) unconfirmed = unconfirmed.slice(-MAX_UNCONFIRMED);
  };

  const deliverUnconfirmed = async (deliver: SendBatches): Promise<FlushOutcome> => {
    const { id, shard } = self();
    const before = unconfirmed.length;
    if (before > 0) {
      try {
        const applied = await deliver(id, shard, [...unconfirmed]);
        unconfirmed = unconfirmed.filter((batch) => batch.seq > applied);
      } catch {
        // Kept as they are: the next flush sends them again with their numbers.
      }
    }
    return { isolate: id, shard, confirmed: before - unconfirmed.length, unconfirmed: unconfirmed.length };
  };

  const flush = (now: number, deliver: SendBatches): Promise<FlushOutcome> => {
    lastFlushAt = now;
    seal();
    const run = queue.then(() => deliverUnconfirmed(deliver));
    queue = run.catch(() => undefined);
    return run;
  };

  return {
    count(family, labels, by = 1) {
      series(family, labels)[0]! += by;
    },
    observe(family, labels, value) {
      const values = series(family, labels);
      values[bucketIndex(family.bounds, value)]! += 1;
      values[family.bounds.length + 1]! += value;
    },
    flushIfDue(now, deliver, waitUntil) {
      lastFlushAt ??= now;
      if (now - lastFlushAt < FLUSH_INTERVAL_MS || (pending.size === 0 && unconfirmed.length === 0)) return;
      waitUntil(flush(now, deliver));
    },
    flush,
  };
}
