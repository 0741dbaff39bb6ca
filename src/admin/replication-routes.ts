/** Replication over the admin API: run a cycle now, and look at or trim over-replicated objects. */
import { executeOverReplication, overReplicationPending, runReplication } from '../jobs/replication.ts';
import type { AdminContext } from './api.ts';
import { batchSizeParam, json } from './http.ts';

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
  const batchSize = batchSizeParam(request, 1000);
  if (batchSize instanceof Response) return batchSize;
  const removed = await executeOverReplication(services, batchSize);
  return json(200, { status: 'ok', copies_removed: removed, ...(await overReplicationPending(services)) });
}
