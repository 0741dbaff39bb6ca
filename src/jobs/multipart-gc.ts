/**
 * Stale multipart GC: uploads started longer ago than `cleanup_queue.multipart_stale_timeout` are aborted through
 * the normal abort path (src/objects/multipart.ts), backend parts included. Hourly (src/jobs/periodic-run.ts) under
 * the job's lease, up to BATCH uploads per run, oldest first; a full batch continues on the next tick. An abort the
 * backend refuses or cannot do (s3rver answers 405) still ends the upload: its record goes and the backend upload
 * waits in the cleanup queue (src/jobs/cleanup-queue.ts, which settles a backend without AbortMultipartUpload), so
 * no upload can hold the job up. Idempotent: an upload aborted twice is simply gone the second time.
 */
import { describeError } from '../backends/client.ts';
import { abortUpload } from '../objects/multipart.ts';
import type { Services } from '../services/services.ts';
import { staleUploads } from '../store/multipart.ts';
import { mapBounded } from '../util/bounded.ts';
import type { JobInput } from './job.ts';
import { type PeriodicInput, type PeriodicRun, runWhenDue } from './periodic-run.ts';

export const MULTIPART_GC_JOB = 'multipart-gc';
const INTERVAL_MS = 60 * 60_000;
const LEASE_MS = 15 * 60_000;
/** Uploads per run, and aborts at a time. */
const BATCH = 100;
const CONCURRENCY = 4;

export interface MultipartGcResult {
  aborted: number;
  failed: number;
  more: boolean;
  add: Record<string, number>;
}

export async function multipartGcJob(services: Services, input: JobInput): Promise<void> {
  const run = await runMultipartGc(services, { trigger: 'cron', now: input.scheduledTime });
  if (run.status === 'skipped') services.log.debug('multipart GC skipped', { reason: run.reason });
}

export async function runMultipartGc(services: Services, input: PeriodicInput): Promise<PeriodicRun<MultipartGcResult>> {
  const settings = services.config.cleanupQueue;
  const job = { name: MULTIPART_GC_JOB, intervalMs: INTERVAL_MS, leaseMs: LEASE_MS, settings, trigger: input.trigger, now: input.now ?? services.now(), force: input.force ?? false };
  return runWhenDue(services, job, (runAt) => abortStale(services, new Date(runAt.getTime() - settings.multipartStaleTimeoutMs)));
}

async function abortStale(services: Services, startedBefore: Date): Promise<MultipartGcResult> {
  const uploads = await staleUploads(services.db(), startedBefore, BATCH);
  const outcomes = await mapBounded(uploads, CONCURRENCY, async (upload) => {
    const fields = { bucket: upload.bucket, key: upload.key, upload_id: upload.uploadId, backend: upload.backendName, started: upload.createdAt.toISOString() };
    try {
      await abortUpload(services, upload);
      services.log.info('stale multipart upload aborted', fields);
      return true;
    } catch (err) {
      services.log.warn('stale multipart upload could not be aborted', { ...fields, error: describeError(err) });
      return false;
    }
  });
  const aborted = outcomes.filter(Boolean).length;
  const failed = outcomes.length - aborted;
  // A full batch that made progress continues next tick; one that failed whole waits for the next hourly run.
  const more = uploads.length === BATCH && aborted > 0;
  const status = failed === 0 ? 'success' : aborted > 0 ? 'partial' : 'error';
  return { aborted, failed, more, add: { aborted, failed, [`runs_${status}`]: 1 } };
}
