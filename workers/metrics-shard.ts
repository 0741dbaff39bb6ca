/** One of the METRICS_SHARDS Durable Objects adding up the isolates' request counts (src/observe/metrics-shard.ts). */
import { DurableObject } from 'cloudflare:workers';
import { type MetricsBatch, type MetricsShardRpc, type SeriesTotals, mergeBatches, shardTotals } from '../src/observe/metrics-shard.ts';
import type { Env } from './env.ts';

export const metricsShardName = (index: number): string => `shard-${index}`;

export class MetricsShard extends DurableObject<Env> implements MetricsShardRpc {
  async merge(isolate: string, batches: MetricsBatch[]): Promise<number> {
    // One transaction: a batch's series and the isolate's batch number are stored together or not at all.
    return this.ctx.storage.transactionSync(() => mergeBatches(this.ctx.storage.kv, isolate, batches, Date.now()));
  }

  async totals(): Promise<SeriesTotals> {
    return shardTotals(this.ctx.storage.kv);
  }
}
