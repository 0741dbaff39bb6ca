/** Integrity over the admin API: a scrub pass now, and one page of backfill-checksums. */
import { backfillPage } from '../jobs/backfill-checksums.ts';
import { runScrub } from '../jobs/scrub.ts';
import type { AdminContext } from './api.ts';
import { batchSizeParam, json } from './http.ts';

/**
 * POST /admin/api/scrub[?batch_size=N]: one pass now (waits for it), even when the scheduled scrub is off:
 * `{status: "ok", checked, mismatches, dropped, skipped, errors, more}`, or `{status: "skipped", reason}` while
 * another pass holds the lease.
 */
export async function scrubRoute(request: Request, context: AdminContext): Promise<Response> {
  const { services } = context;
  const batchSize = batchSizeParam(request, services.config.integrity.scrubBatchSize);
  if (batchSize instanceof Response) return batchSize;
  const run = await runScrub(services, { force: true, trigger: 'admin', batchSize });
  if (run.status === 'skipped') return json(200, { status: 'skipped', reason: run.reason, checked: 0, mismatches: 0, dropped: 0, skipped: 0, errors: 0 });
  return json(200, run);
}

/**
 * POST /admin/api/backfill-checksums[?batch_size=N&after_bucket=B&after_key=K]: one page of objects without a
 * content digest after (B, K): `{status: "ok", processed, filled, skipped, failed, next}` where `next` is the
 * cursor of the following page (null at the end), or 409 while another page runs.
 */
export async function backfillChecksumsRoute(request: Request, context: AdminContext): Promise<Response> {
  const batchSize = batchSizeParam(request, 100);
  if (batchSize instanceof Response) return batchSize;
  const query = new URL(request.url).searchParams;
  const bucket = query.get('after_bucket');
  const key = query.get('after_key');
  if ((bucket === null) !== (key === null)) return json(400, { error: 'after_bucket and after_key go together' });
  const after = bucket !== null && key !== null ? { bucket, key } : undefined;
  const page = await backfillPage(context.services, after, batchSize);
  if (page.status === 'busy') return json(409, { error: page.reason });
  return json(200, page);
}
