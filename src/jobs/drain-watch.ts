/**
 * Cron job: every configured backend's Durable Object makes sure a drain in progress has its alarm pending, so a
 * drain resumes after a restart even if the alarm was lost. Idempotent.
 */
import type { Services } from '../services/services.ts';

export async function drainWatchJob(services: Services): Promise<void> {
  await Promise.all(services.config.backends.map((b) => services.backendState(b.name).ensureAlarm()));
}
