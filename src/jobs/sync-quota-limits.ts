/** Cron job: keep backend_quotas.bytes_limit equal to each backend's configured quota_bytes. Idempotent. */
import type { JobContext } from './job.ts';
import { ensureQuotaLimitsSynced } from '../runtime/quota-sync.ts';

export async function syncQuotaLimitsJob(context: JobContext): Promise<void> {
  await ensureQuotaLimitsSynced(context.db(), context.config, { force: true });
  context.log.debug('quota limits synced', { backends: context.config.backends.length });
}
