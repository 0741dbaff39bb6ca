/**
 * The metrics shards in memory: the same merge as the Durable Object (src/observe/metrics-shard.ts) over a Map, for
 * tests that need Services or want to see what shards end up holding without workerd's storage.
 */
import { METRICS_SHARDS, type MetricsShardRpc, type ShardStorage, mergeBatches, shardTotals } from '../../../src/observe/metrics-shard.ts';
import { createMetricsRecorder } from '../../../src/observe/metrics-recorder.ts';
import { type RequestMetrics, createRequestMetrics } from '../../../src/observe/request-metrics.ts';

export function memoryShardStorage(): ShardStorage & { entries: Map<string, unknown> } {
  const entries = new Map<string, unknown>();
  return {
    entries,
    get: <T>(key: string) => structuredClone(entries.get(key)) as T | undefined,
    put: (key, value) => void entries.set(key, structuredClone(value)),
    delete: (key) => entries.delete(key),
    list: <T>({ prefix }: { prefix: string }) => [...entries].filter(([key]) => key.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : 1)) as [string, T][],
  };
}

export function memoryShard(now: () => number, storage = memoryShardStorage()): MetricsShardRpc {
  return {
    merge: async (isolate, batches) => mergeBatches(storage, isolate, structuredClone(batches), now()),
    totals: async () => shardTotals(storage),
  };
}

/** Request metrics over their own recorder and in-memory shards. */
export function memoryRequestMetrics(now: () => number): RequestMetrics {
  const shards = Array.from({ length: METRICS_SHARDS }, () => memoryShard(now));
  return createRequestMetrics({ recorder: createMetricsRecorder(), shard: (i) => shards[i]!, now });
}
