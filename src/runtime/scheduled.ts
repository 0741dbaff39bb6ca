/**
 * Cron Trigger entry: one table maps schedules to background jobs. Jobs arrive with their issues (replication,
 * cleanup queue, usage flush...); each must be idempotent and run under a lease.
 */
import { createLogger } from '../observe/log.ts';

export type Job = (scheduledTime: number) => Promise<void>;

export const JOBS_BY_CRON: Record<string, readonly Job[]> = {
  '* * * * *': [],
};

export async function handleScheduled(cron: string, scheduledTime: number): Promise<void> {
  const jobs = JOBS_BY_CRON[cron];
  if (!jobs) {
    createLogger('info').warn('no jobs for cron schedule', { cron });
    return;
  }
  for (const job of jobs) await job(scheduledTime);
}
