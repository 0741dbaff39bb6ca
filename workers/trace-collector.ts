/** One Durable Object for the whole fleet's trace window and samples (src/observe/trace-collector.ts says how). */
import { DurableObject } from 'cloudflare:workers';
import { type TraceCollectorRpc, type TraceReport, type TraceWindow, traceCollector } from '../src/observe/trace-collector.ts';
import type { TraceSample } from '../src/observe/trace-summary.ts';
import type { Env } from './env.ts';

export const TRACE_COLLECTOR_NAME = 'fleet';

export class TraceCollector extends DurableObject<Env> implements TraceCollectorRpc {
  private readonly collector = traceCollector(this.ctx.storage.kv, () => Date.now());

  // Each call in one storage transaction: a window and its counts change together with its batches, or not at all.
  async start(durationSeconds: number, sample: number): Promise<TraceWindow> {
    return this.ctx.storage.transactionSync(() => this.collector.start(durationSeconds, sample));
  }

  async window(): Promise<TraceWindow | null> {
    return this.collector.window();
  }

  async add(windowId: string, samples: TraceSample[], dropped: number): Promise<void> {
    return this.ctx.storage.transactionSync(() => this.collector.add(windowId, samples, dropped));
  }

  async report(): Promise<TraceReport> {
    return this.collector.report();
  }
}
