/**
 * One Durable Object per client IP holding its token bucket, so the limit holds across every isolate; one more
 * (FLEET_COUNTERS) keeps fleet-wide event totals. The bucket lives in memory: if the object
 * is evicted after being idle, the IP starts again with a full bucket, which an idle IP would have anyway.
 */
import { DurableObject } from 'cloudflare:workers';
import { type Bucket, takeToken } from '../src/runtime/token-bucket.ts';
import type { RateLimitRpc } from '../src/runtime/rate-limit-rpc.ts';
import type { Env } from './env.ts';

export class ClientRateLimit extends DurableObject<Env> implements RateLimitRpc {
  private bucket: Bucket | undefined;

  async take(rate: number, burst: number): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const result = takeToken(this.bucket, rate, burst, Date.now());
    this.bucket = result.bucket;
    return { allowed: result.allowed, retryAfterSeconds: result.retryAfterSeconds };
  }

  async increment(counter: string, by: number): Promise<void> {
    const counters = (await this.ctx.storage.get<Record<string, number>>('counters')) ?? {};
    counters[counter] = (counters[counter] ?? 0) + by;
    await this.ctx.storage.put('counters', counters);
  }

  async counters(): Promise<Record<string, number>> {
    return (await this.ctx.storage.get<Record<string, number>>('counters')) ?? {};
  }
}
