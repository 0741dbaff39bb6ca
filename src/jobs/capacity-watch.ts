/**
 * Cron job: a backend whose stored bytes (copies, orphans waiting for cleanup and in-flight multipart parts, as
 * placement counts them) reach CAPACITY_WARNING_FRACTION of its quota_bytes is announced as
 * `backend.capacity.warning`, at most once an hour per backend (its Durable Object keeps the time). Backends
 * without a quota are never full.
 */
import type { Services } from '../services/services.ts';
import { backendSpace } from '../store/quotas.ts';

export const CAPACITY_WARNING_FRACTION = 0.8;

export async function capacityWatchJob(services: Services): Promise<void> {
  const limited = services.config.backends.filter((b) => b.quotaBytes > 0).map((b) => b.name);
  for (const space of await backendSpace(services.db(), limited)) {
    const stored = space.bytesUsed + space.orphanBytes + space.inflightBytes;
    if (space.bytesLimit <= 0 || stored < space.bytesLimit * CAPACITY_WARNING_FRACTION) continue;
    const backend = space.backendName;
    if (!(await services.backendState(backend).claimCapacityWarning(services.now()))) continue;
    const utilization = Math.round((stored / space.bytesLimit) * 1000) / 1000;
    services.log.warn('backend nearly full', { backend, stored_bytes: stored, quota_bytes: space.bytesLimit, utilization });
    services.notify.emit({
      type: 'backend.capacity.warning',
      subject: backend,
      data: { backend, stored_bytes: stored, quota_bytes: space.bytesLimit, utilization, threshold: CAPACITY_WARNING_FRACTION },
    });
  }
}
