/**
 * What the Worker asks the counter Durable Objects: one per client IP (its rate-limit bucket), plus one
 * (FLEET_COUNTERS) that keeps fleet-wide event totals for /metrics (rate-limit and usage-limit refusals, cleanup
 * outcomes), which no single isolate could count.
 */
export interface RateLimitRpc {
  /** Takes a token from this IP's bucket: `rate` a second up to `burst`. */
  take(rate: number, burst: number): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
  /** On FLEET_COUNTERS: adds to a named total. */
  increment(counter: string, by: number): Promise<void>;
  counters(): Promise<Record<string, number>>;
}

export const FLEET_COUNTERS = '__fleet_counters__';
