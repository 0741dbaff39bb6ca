/**
 * Cron Trigger entry: one table maps schedules to background jobs. Each job is idempotent; a failing job is
 * logged and does not stop the others.
 */
import type { Job } from '../jobs/job.ts';
import { syncQuotaLimitsJob } from '../jobs/sync-quota-limits.ts';
import { drainWatchJob } from '../jobs/drain-watch.ts';
import { cleanupQueueJob } from '../jobs/cleanup-queue.ts';
import { breakerWatchJob } from '../jobs/breaker-watch.ts';
import { usageFlushJob } from '../jobs/usage-flush.ts';
import { capacityWatchJob } from '../jobs/capacity-watch.ts';
import { replicationJob } from '../jobs/replication-cron.ts';
import { bulkJobWatch } from '../jobs/bulk-jobs.ts';
import { rebalanceJob } from '../jobs/rebalance.ts';
import { reconcileJob } from '../jobs/reconcile.ts';
import { lifecycleJob } from '../jobs/lifecycle.ts';
import { multipartGcJob } from '../jobs/multipart-gc.ts';
import { scrubJob } from '../jobs/scrub.ts';
import { createLogger, errorFields } from '../observe/log.ts';
import { resolveActiveConfig } from './active-config.ts';
import type { Bindings } from './bindings.ts';
import { createServices, readSettings } from './services.ts';

export const JOBS_BY_CRON: Record<string, readonly { name: string; run: Job }[]> = {
  '* * * * *': [
    { name: 'sync-quota-limits', run: syncQuotaLimitsJob },
    { name: 'drain-watch', run: drainWatchJob },
    { name: 'breaker-watch', run: breakerWatchJob },
    { name: 'usage-flush', run: usageFlushJob },
    { name: 'capacity-watch', run: capacityWatchJob },
    { name: 'cleanup-queue', run: cleanupQueueJob },
    { name: 'replication', run: replicationJob },
    { name: 'bulk-job-watch', run: bulkJobWatch },
    { name: 'rebalance', run: rebalanceJob },
    { name: 'reconcile', run: reconcileJob },
    { name: 'lifecycle', run: lifecycleJob },
    { name: 'multipart-gc', run: multipartGcJob },
    { name: 'scrub', run: scrubJob },
  ],
};

export async function handleScheduled(cron: string, scheduledTime: number, bindings: Bindings): Promise<void> {
  const runtime = await readSettings(bindings);
  const loaded = await resolveActiveConfig(bindings, runtime.logLevel);
  if (!loaded.ok) {
    createLogger('info').error('configuration unusable; background jobs skipped', { error: loaded.error });
    return;
  }
  const { services, close } = createServices(bindings, loaded.active, { runtime, logFields: { cron } });
  const jobs = JOBS_BY_CRON[cron];
  try {
    if (!jobs) {
      services.log.warn('no jobs for cron schedule');
      return;
    }
    for (const job of jobs) {
      const log = services.log.with({ job: job.name });
      try {
        await job.run({ ...services, log }, { scheduledTime });
      } catch (err) {
        log.error('background job failed', errorFields(err));
      }
    }
  } finally {
    bindings.waitUntil(close().catch(() => {}));
  }
}
