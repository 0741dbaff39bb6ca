/**
 * One Durable Object per client IP holding its token bucket, so the limit holds across every isolate. The bucket
 * lives in memory: if the object is evicted after being idle, the IP starts again with a full bucket, which an
 * idle IP would have anyway.
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
}
