/**
 * One Durable Object per client IP holding its token bucket, so the limit holds across every isolate; one more
 * (RATE_LIMIT_TOTALS) keeps the fleet-wide count of refused requests. The bucket lives in memory: if the object
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

  async addRejections(count: number): Promise<void> {
    await this.ctx.storage.put('rejections', ((await this.ctx.storage.get<number>('rejections')) ?? 0) + count);
  }

  async rejections(): Promise<number> {
    return (await this.ctx.storage.get<number>('rejections')) ?? 0;
  }
}
