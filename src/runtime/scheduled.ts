/**
 * Cron Trigger entry: one table maps schedules to background jobs. Each job is idempotent; a failing job is
 * logged and does not stop the others.
 */
import { deploymentTag } from '../config/deployment-tag.ts';
import { readRuntimeSettings } from '../config/runtime-settings.ts';
import type { Job } from '../jobs/job.ts';
import { syncQuotaLimitsJob } from '../jobs/sync-quota-limits.ts';
import { drainWatchJob } from '../jobs/drain-watch.ts';
import { cleanupQueueJob } from '../jobs/cleanup-queue.ts';
import { breakerWatchJob } from '../jobs/breaker-watch.ts';
import { usageFlushJob } from '../jobs/usage-flush.ts';
import { createBackendHealth } from '../backends/backend-health.ts';
import { FLEET_COUNTERS } from './rate-limit-rpc.ts';
import { replicationJob } from '../jobs/replication-cron.ts';
import { createLogger, errorFields } from '../observe/log.ts';
import { openDatabase, type Database } from '../store/db.ts';
import { resolveActiveConfig } from './active-config.ts';
import type { Bindings } from './bindings.ts';

export const JOBS_BY_CRON: Record<string, readonly { name: string; run: Job }[]> = {
  '* * * * *': [
    { name: 'sync-quota-limits', run: syncQuotaLimitsJob },
    { name: 'drain-watch', run: drainWatchJob },
    { name: 'breaker-watch', run: breakerWatchJob },
    { name: 'usage-flush', run: usageFlushJob },
    { name: 'cleanup-queue', run: cleanupQueueJob },
    { name: 'replication', run: replicationJob },
  ],
};

export async function handleScheduled(cron: string, scheduledTime: number, bindings: Bindings): Promise<void> {
  const runtime = await readRuntimeSettings(bindings.configStore);
  const loaded = await resolveActiveConfig(bindings, runtime.logLevel);
  if (!loaded.ok) {
    createLogger('info').error('configuration unusable; background jobs skipped', { error: loaded.error });
    return;
  }
  const log = createLogger(runtime.logLevel ?? loaded.active.config.server.logLevel, { cron });
  const jobs = JOBS_BY_CRON[cron];
  if (!jobs) {
    log.warn('no jobs for cron schedule');
    return;
  }
  const health = createBackendHealth(bindings);
  let database: Database | undefined;
  const db = () => {
    if (!bindings.databaseUrl) throw new Error('DATABASE_URL is not set');
    database ??= openDatabase(bindings.databaseUrl, { localProxy: bindings.databaseLocalProxy });
    return database.db;
  };
  try {
    for (const job of jobs) {
      try {
        await job.run({
          config: loaded.active.config,
          db,
          log: log.with({ job: job.name }),
          scheduledTime,
          backendState: bindings.backendState,
          backend: (name) => {
            const client = loaded.active.backends.get(name);
            return client && health.track(client);
          },
          deployment: deploymentTag(bindings.configText ?? ''),
          health,
          countEvent: (counter, by = 1) => bindings.waitUntil(bindings.rateLimiter(FLEET_COUNTERS).increment(counter, by).catch(() => {})),
        });
      } catch (err) {
        log.error('background job failed', { job: job.name, ...errorFields(err) });
      }
    }
  } finally {
    if (database) bindings.waitUntil(database.close().catch(() => {}));
  }
}
