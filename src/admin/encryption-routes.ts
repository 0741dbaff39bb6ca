/**
 * Encryption over the admin API: the configured keys and what each wraps, and the three bulk jobs
 * (encrypt-existing, decrypt-existing, rotate-encryption-key): POST starts one (or reports the one running), GET
 * reports the latest. Answers are the seed's shape, `{"status": "running"|"complete", "encrypted": N, "failed": N,
 * "total": N}`, with the job's id, skipped copies and bytes besides.
 */
import { type StartRefusal, jobReport, startBulkJob } from '../jobs/bulk-jobs.ts';
import { copiesByKey, latestJob, runningJobs } from '../store/bulk-jobs.ts';
import type { BulkJobKind } from '../store/schema.ts';
import type { AdminContext } from './api.ts';
import { json, readJsonObject } from './http.ts';

const REFUSAL_STATUS: Record<StartRefusal['reason'], number> = {
  'not-enabled': 400,
  'no-keys': 400,
  'unknown-key': 400,
  'is-primary': 409,
};

export async function startJobRoute(request: Request, kind: BulkJobKind, context: AdminContext): Promise<Response> {
  let oldKeyId = new URL(request.url).searchParams.get('old_key_id') ?? undefined;
  if (request.headers.get('content-length') !== '0' && request.body) {
    const body = await readJsonObject(request, '{"old_key_id": "config-1"} (or no body)');
    if (!body.ok) return body.response;
    const given = body.value.old_key_id;
    if (given !== undefined && (typeof given !== 'string' || given === '')) return json(400, { error: 'old_key_id must be a key id such as k-0123456789abcdef or config-1' });
    oldKeyId = given ?? oldKeyId;
  }
  if (oldKeyId !== undefined && kind !== 'rotate-encryption-key') return json(400, { error: `${kind} takes no old_key_id` });
  const started = await startBulkJob(context.services, kind, { oldKeyId });
  if (!started.ok) return json(REFUSAL_STATUS[started.reason], { error: started.error, reason: started.reason });
  return json(started.created ? 202 : 200, { ...jobReport(started.job), ...(started.created ? {} : { already_running: true }) });
}

export async function jobStatusRoute(kind: BulkJobKind, context: AdminContext): Promise<Response> {
  const job = await latestJob(context.services.db(), kind);
  if (!job) return json(404, { error: `no ${kind} job has run yet` });
  return json(200, jobReport(job));
}

/** The configured keys with the copies each wraps, copies wrapped by keys no longer configured, and running jobs. */
export async function encryptionRoute(context: AdminContext): Promise<Response> {
  const { services } = context;
  const db = services.db();
  const [keys, counts, jobs] = await Promise.all([services.storage.keys(), copiesByKey(db), runningJobs(db)]);
  const copies = (id: string | null) => counts.find((c) => c.keyId === id)?.copies ?? 0;
  const configured = new Set((keys ?? []).map((k) => k.id));
  const settings = services.config.encryption;
  return json(200, {
    enabled: services.storage.sealing,
    chunk_size: settings.chunkSize,
    keys: (keys ?? []).map((k) => ({ id: k.id, alias: k.alias, primary: k.primary, copies: copies(k.id) })),
    unknown_keys: counts.filter((c) => c.keyId !== null && !configured.has(c.keyId)).map((c) => ({ id: c.keyId, copies: c.copies })),
    plaintext_copies: copies(null),
    running_jobs: jobs.map(jobReport),
  });
}
