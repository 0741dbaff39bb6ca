/**
 * Cron job: every backend's Durable Object writes the usage it counted and has not yet written to Postgres. Most
 * flushes happen on their own as calls are reported (every usage_flush.interval, faster near a limit); this one
 * catches what a quiet minute left behind. Idempotent: only the not-yet-written part is ever added.
 */
import type { JobContext } from './job.ts';

export async function usageFlushJob(context: JobContext): Promise<void> {
  await Promise.all(context.config.backends.map((b) => context.backendState(b.name).flushUsage(b.name)));
}
