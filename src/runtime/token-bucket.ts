/** A token bucket: `rate` tokens a second up to `burst`; each request takes one. */

export interface Bucket {
  tokens: number;
  updatedAt: number;
}

export interface TakeResult {
  allowed: boolean;
  /** Whole seconds until a token is available (for Retry-After), when refused. */
  retryAfterSeconds: number;
  bucket: Bucket;
}

export function takeToken(bucket: Bucket | undefined, rate: number, burst: number, now: number): TakeResult {
  const start = bucket ?? { tokens: burst, updatedAt: now };
  const elapsed = Math.max(0, now - start.updatedAt) / 1000;
  const tokens = Math.min(burst, start.tokens + elapsed * rate);
  if (tokens >= 1) return { allowed: true, retryAfterSeconds: 0, bucket: { tokens: tokens - 1, updatedAt: now } };
  return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / rate)), bucket: { tokens, updatedAt: now } };
}
