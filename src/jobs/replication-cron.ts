/** Cron job: a replication run when one is due (see src/jobs/replication.ts for when that is). */
import type { JobContext } from './job.ts';
import { runReplication } from './replication.ts';

export async function replicationJob(context: JobContext): Promise<void> {
  const run = await runReplication(
    { config: context.config, db: context.db(), backend: context.backend, log: context.log, now: new Date(context.scheduledTime), deployment: context.deployment, health: context.health, trigger: 'cron' },
    { force: false },
  );
  if (run.status === 'skipped') context.log.debug('replication skipped', { reason: run.reason });
}
