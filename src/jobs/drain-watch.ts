/**
 * Cron job: every configured backend's Durable Object makes sure a drain in progress has its alarm pending, so a
 * drain resumes after a restart even if the alarm was lost. Idempotent.
 */
import type { JobContext } from './job.ts';

export async function drainWatchJob(context: JobContext): Promise<void> {
  await Promise.all(context.config.backends.map((b) => context.backendState(b.name).ensureAlarm()));
}
