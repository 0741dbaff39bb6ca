/** Cron job: a replication run when one is due (see src/jobs/replication.ts for when that is). */
import type { Services } from '../services/services.ts';
import type { JobInput } from './job.ts';
import { runReplication } from './replication.ts';

export async function replicationJob(services: Services, input: JobInput): Promise<void> {
  const run = await runReplication(services, { force: false, trigger: 'cron', now: input.scheduledTime });
  if (run.status === 'skipped') services.log.debug('replication skipped', { reason: run.reason });
}
