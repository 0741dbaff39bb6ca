/**
 * Keeps backend_quotas.bytes_limit equal to the config's quota_bytes. A Worker has no start-up moment, so each
 * isolate syncs before its first database write under a configuration (and the cron repeats it).
 */
import type { Config } from '../config/types.ts';
import type { Services } from '../services/services.ts';
import { syncQuotaLimits } from '../store/quotas.ts';

/** `config` defaults to the services' own; an activation passes the configuration it just made active. */
export async function ensureQuotaLimitsSynced(services: Services, opts: { force?: boolean; config?: Config } = {}): Promise<void> {
  const config = opts.config ?? services.config;
  const memo = services.memory.quotaSync;
  if (memo.syncedFor === config && !opts.force) return;
  await syncQuotaLimits(
    services.db(),
    config.backends.map((b) => ({ backendName: b.name, bytesLimit: b.quotaBytes })),
  );
  memo.syncedFor = config;
}
