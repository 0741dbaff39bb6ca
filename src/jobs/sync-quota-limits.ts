/**
 * Cron job: keep backend_quotas.bytes_limit equal to each backend's configured quota_bytes. Idempotent. The first
 * run of a deployment (Cloudflare runs the cron right after a deploy; the local launcher at start) also warns when
 * copies are recorded on backends the configuration no longer has.
 */
import type { Services } from '../services/services.ts';
import { ensureQuotaLimitsSynced } from './quota-sync.ts';
import { copiesOnUnconfigured } from '../store/quotas.ts';

export async function syncQuotaLimitsJob(services: Services): Promise<void> {
  await ensureQuotaLimitsSynced(services, { force: true });
  services.log.debug('quota limits synced', { backends: services.config.backends.length });
  const memo = services.memory.quotaSync;
  if (memo.checkedDeployment === services.deployment) return;
  memo.checkedDeployment = services.deployment;
  for (const { backendName, copies } of await copiesOnUnconfigured(services.db(), services.config.backends.map((b) => b.name))) {
    services.log.warn('copies are recorded on a backend that is not in the configuration; objects with no other copy answer 503', {
      backend: backendName,
      copies,
      remedy: 'put the backend back in the configuration and drain it, or remove its records with admin remove-backend once it is configured',
    });
  }
}
