/**
 * What a metrics shard (one of METRICS_SHARDS Durable Objects, workers/metrics-shard.ts) does with the counts
 * isolates send it: adds each batch to its stored totals exactly once. An isolate numbers its batches 1, 2, 3...
 * and sends every batch the shard has not confirmed, so a batch whose confirmation was lost arrives again; the shard
 * remembers the last number it applied per isolate and skips what it already has. Storage keys: `series:<key>` holds
 * a series' values, `isolate:<id>` the isolate's last applied batch and when it last sent one.
 */
import type { SyncStorage } from './sync-storage.ts';
import { type SeriesValues, addValues } from './request-metric-families.ts';

/** How many shards the fleet's counts are spread over; an isolate sends all its counts to one of them. */
export const METRICS_SHARDS = 8;

/** An isolate forgotten this long after its last batch (isolates live minutes to hours; a new one has a new id). */
const ISOLATE_MEMORY_MS = 7 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

/** One isolate's counts since its previous batch: the values to add, by series key. */
export interface MetricsBatch {
  seq: number;
  series: SeriesTotals;
}

/** Series values by series key (a plain object: it crosses the Durable Object RPC boundary as is). */
export type SeriesTotals = Record<string, SeriesValues>;

export interface MetricsShardRpc {
  /** Applies the batches not applied before, in order; answers the last batch number applied for this isolate. */
  merge(isolate: string, batches: MetricsBatch[]): Promise<number>;
  /** Every series' stored totals. */
  totals(): Promise<SeriesTotals>;
}

interface IsolateRecord {
  seq: number;
  at: number;
}

export function mergeBatches(storage: SyncStorage, isolate: string, batches: readonly MetricsBatch[], now: number): number {
  let last = storage.get<IsolateRecord>(`isolate:${isolate}`)?.seq ?? 0;
  for (const batch of [...batches].sort((a, b) => a.seq - b.seq)) {
    if (batch.seq <= last) continue;
    for (const [key, delta] of Object.entries(batch.series)) {
      const values = storage.get<SeriesValues>(`series:${key}`) ?? [];
      addValues(values, delta);
      storage.put(`series:${key}`, values);
    }
    last = batch.seq;
  }
  storage.put(`isolate:${isolate}`, { seq: last, at: now } satisfies IsolateRecord);
  pruneIsolates(storage, now);
  return last;
}

export function shardTotals(storage: SyncStorage): SeriesTotals {
  const totals: SeriesTotals = {};
  for (const [key, values] of storage.list<SeriesValues>({ prefix: 'series:' })) totals[key.slice('series:'.length)] = values;
  return totals;
}

/** Forgets isolates quiet for ISOLATE_MEMORY_MS, at most once per PRUNE_EVERY_MS (it lists them all). */
function pruneIsolates(storage: SyncStorage, now: number): void {
  if (now - (storage.get<number>('pruned-at') ?? 0) < PRUNE_EVERY_MS) return;
  for (const [key, record] of storage.list<IsolateRecord>({ prefix: 'isolate:' })) {
    if (record.at < now - ISOLATE_MEMORY_MS) storage.delete(key);
  }
  storage.put('pruned-at', now);
}

/** Adds up several shards' totals into one map of series. */
export function sumTotals(shards: readonly SeriesTotals[]): Map<string, SeriesValues> {
  const sum = new Map<string, SeriesValues>();
  for (const totals of shards) {
    for (const [key, values] of Object.entries(totals)) {
      const into = sum.get(key) ?? [];
      addValues(into, values);
      sum.set(key, into);
    }
  }
  return sum;
}
