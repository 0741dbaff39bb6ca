/** `POST /admin/api/sync`: adopt objects a backend holds without a record (src/jobs/sync.ts), a bounded call at a time. */
import { syncPages } from '../jobs/sync.ts';
import type { AuditNote } from './admin-audit.ts';
import type { AdminContext } from './api.ts';
import { json, readJsonObject } from './http.ts';

/** A call stops starting listing pages after this long, so that it answers within the CLI's 30 s. */
const CALL_BUDGET_MS = 15_000;
const DEFAULT_MIN_AGE_S = 900;
const EXAMPLE = '{"backend": "b1", "bucket": "photos", "prefix": "2024/", "dry_run": true, "adopt_foreign": false, "min_age_seconds": 900, "after": null}';

export async function syncRoute(request: Request, context: AdminContext, note: AuditNote = () => {}): Promise<Response> {
  const { services } = context;
  const body = await readJsonObject(request, EXAMPLE);
  if (!body.ok) return body.response;
  const { backend, bucket, prefix = '', dry_run = false, adopt_foreign = false, min_age_seconds = DEFAULT_MIN_AGE_S, after = null } = body.value;
  const refuse = (error: string) => json(400, { error });
  if (typeof backend !== 'string' || !services.config.backends.some((b) => b.name === backend)) {
    return refuse(`backend must name a configured backend (${services.config.backends.map((b) => b.name).join(', ')}), got ${JSON.stringify(backend)}`);
  }
  if (typeof bucket !== 'string' || !services.config.buckets.some((b) => b.name === bucket)) {
    return refuse(`bucket must name a configured bucket (${services.config.buckets.map((b) => b.name).join(', ')}), got ${JSON.stringify(bucket)}`);
  }
  if (typeof prefix !== 'string' || new TextEncoder().encode(prefix).length > 1024) return refuse('prefix must be a string of at most 1024 bytes');
  if (typeof dry_run !== 'boolean' || typeof adopt_foreign !== 'boolean') return refuse('dry_run and adopt_foreign must be true or false');
  if (typeof min_age_seconds !== 'number' || !Number.isSafeInteger(min_age_seconds) || min_age_seconds < 0) return refuse('min_age_seconds must be a whole number of seconds >= 0');
  if (after !== null && typeof after !== 'string') return refuse('after must be the "next" of the last answer, or null');
  note({ backend, bucket, prefix, dry_run, adopt_foreign });
  const report = await syncPages(services, {
    backend,
    bucket,
    prefix,
    dryRun: dry_run,
    adoptForeign: adopt_foreign,
    minAgeMs: min_age_seconds * 1000,
    after: after ?? undefined,
    deadline: services.now() + CALL_BUDGET_MS,
  });
  if (report.imported > 0 && !dry_run) services.log.info('sync imported objects', { backend, bucket, imported: report.imported, bytes: report.bytes });
  return json(200, { dry_run, ...report });
}
