/**
 * Cron job: keep backend_quotas.bytes_limit equal to each backend's configured quota_bytes. Idempotent. The first
 * run of a deployment (Cloudflare runs the cron right after a deploy; the local launcher at start) also warns when
 * copies are recorded on backends the configuration no longer has.
 */
import type { JobContext } from './job.ts';
import { ensureQuotaLimitsSynced } from './quota-sync.ts';
import { copiesOnUnconfigured } from '../store/quotas.ts';

/** The deployment this isolate has already checked for records on unconfigured backends. */
let checkedDeployment: string | undefined;

export async function syncQuotaLimitsJob(context: JobContext): Promise<void> {
  await ensureQuotaLimitsSynced(context.db(), context.config, { force: true });
  context.log.debug('quota limits synced', { backends: context.config.backends.length });
  if (checkedDeployment === context.deployment) return;
  checkedDeployment = context.deployment;
  for (const { backendName, copies } of await copiesOnUnconfigured(context.db(), context.config.backends.map((b) => b.name))) {
    context.log.warn('copies are recorded on a backend that is not in the configuration; objects with no other copy answer 503', {
      backend: backendName,
      copies,
      remedy: 'put the backend back in the configuration and drain it, or remove its records with admin remove-backend once it is configured',
    });
  }
}
