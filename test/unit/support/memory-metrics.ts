/**
 * The metrics shards in memory: the same merge as the Durable Object (src/observe/metrics-shard.ts) over a Map, for
 * tests that need Services or want to see what shards end up holding without workerd's storage.
 */
import { METRICS_SHARDS, type MetricsShardRpc, mergeBatches, shardTotals } from '../../../src/observe/metrics-shard.ts';
import { memorySyncStorage } from '../../../src/observe/sync-storage.ts';
import { createMetricsRecorder } from '../../../src/observe/metrics-recorder.ts';
import { type RequestMetrics, createRequestMetrics } from '../../../src/observe/request-metrics.ts';

export function memoryShard(now: () => number, storage = memorySyncStorage()): MetricsShardRpc {
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
