/** What the Worker asks a client IP's rate-limit Durable Object (workers/client-rate-limit.ts). */
export interface RateLimitRpc {
  /** Takes a token from this IP's bucket: `rate` a second up to `burst`. */
  take(rate: number, burst: number): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
}
