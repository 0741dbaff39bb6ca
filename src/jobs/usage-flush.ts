/**
 * Cron job: every backend's Durable Object writes the usage it counted and has not yet written to Postgres. Most
 * flushes happen on their own as calls are reported (every usage_flush.interval, faster near a limit); this one
 * catches what a quiet minute left behind. Idempotent: only the not-yet-written part is ever added.
 */
import type { Services } from '../services/services.ts';

export async function usageFlushJob(services: Services): Promise<void> {
  await Promise.all(services.config.backends.map((b) => services.backendState(b.name).flushUsage(b.name)));
}
