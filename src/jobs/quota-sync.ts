/**
 * Keeps backend_quotas.bytes_limit equal to the config's quota_bytes. A Worker has no start-up moment, so each
 * isolate syncs before its first database write under a configuration (and the cron repeats it).
 */
import type { Config } from '../config/types.ts';
import type { Db } from '../store/db.ts';
import { syncQuotaLimits } from '../store/quotas.ts';

let syncedFor: Config | undefined;

export async function ensureQuotaLimitsSynced(db: Db, config: Config, opts: { force?: boolean } = {}): Promise<void> {
  if (syncedFor === config && !opts.force) return;
  await syncQuotaLimits(
    db,
    config.backends.map((b) => ({ backendName: b.name, bytesLimit: b.quotaBytes })),
  );
  syncedFor = config;
}
