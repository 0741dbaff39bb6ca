/** What the Worker asks the rate-limit Durable Objects (one per client IP, plus one that keeps the totals). */
export interface RateLimitRpc {
  /** Takes a token from this IP's bucket: `rate` a second up to `burst`. */
  take(rate: number, burst: number): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
  /** On the totals object: counts refused requests. */
  addRejections(count: number): Promise<void>;
  rejections(): Promise<number>;
}

export const RATE_LIMIT_TOTALS = '__totals__';
