/** Replication over the admin API: run a cycle now, and look at or trim over-replicated objects. */
import { executeOverReplication, overReplicationPending, runReplication } from '../jobs/replication.ts';
import type { AdminContext } from './api.ts';
import { json } from './http.ts';

/** A replication cycle now (waits for it): `{status: "ok", copies_created, ...}` or `{status: "skipped", reason}`. */
export async function replicateRoute(context: AdminContext): Promise<Response> {
  const run = await runReplication(context.services, { force: true, trigger: 'admin' });
  if (run.status === 'skipped') return json(200, { status: 'skipped', copies_created: 0, reason: run.reason });
  return json(200, {
    status: 'ok',
    factor: run.factor,
    copies_created: run.copiesCreated,
    copies_removed: run.copiesRemoved,
    failures: run.failures,
    more_pending: run.more,
  });
}

export async function overReplicationRoute(request: Request, context: AdminContext): Promise<Response> {
  const { services } = context;
  if (request.method === 'GET') return json(200, await overReplicationPending(services));
  const param = new URL(request.url).searchParams.get('batch_size');
  const batchSize = param === null ? 1000 : Number(param);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    return json(400, { error: 'batch_size must be a whole number from 1 to 10000' });
  }
  const removed = await executeOverReplication(services, batchSize);
  return json(200, { status: 'ok', copies_removed: removed, ...(await overReplicationPending(services)) });
}
