/**
 * Lifecycle expiration and the stale multipart GC as /metrics and `admin status` show them: their totals and last
 * run, kept with each job's lease in Postgres (so fleet-wide, whichever isolate ran them).
 */
import { LIFECYCLE_JOB } from '../jobs/lifecycle.ts';
import { MULTIPART_GC_JOB } from '../jobs/multipart-gc.ts';
import type { MetricFamily } from '../observe/metrics.ts';
import type { Queryable } from '../store/db.ts';
import { type JobLease, readLease } from '../store/leases.ts';

const RUN_STATUSES = ['success', 'partial', 'error'] as const;

export interface LifecycleJobs {
  lifecycle: JobLease | undefined;
  multipartGc: JobLease | undefined;
}

export async function readLifecycleJobs(db: Queryable): Promise<LifecycleJobs> {
  const [lifecycle, multipartGc] = await Promise.all([readLease(db, LIFECYCLE_JOB), readLease(db, MULTIPART_GC_JOB)]);
  return { lifecycle, multipartGc };
}

export function lifecycleMetrics(jobs: LifecycleJobs): MetricFamily[] {
  const total = (lease: JobLease | undefined, key: string) => lease?.counters[key] ?? 0;
  return [
    { name: 's3o_lifecycle_deleted_total', help: 'Objects deleted by lifecycle rules', type: 'counter', samples: [{ value: total(jobs.lifecycle, 'deleted') }] },
    {
      name: 's3o_lifecycle_failed_total',
      help: 'Lifecycle deletes that failed or were postponed (a backend holding a copy unavailable)',
      type: 'counter',
      samples: [{ value: total(jobs.lifecycle, 'failed') }],
    },
    {
      name: 's3o_lifecycle_runs_total',
      help: 'Lifecycle runs: success (no failure), partial (some deletes failed), error (all failed, or the run did not finish)',
      type: 'counter',
      samples: RUN_STATUSES.map((status) => ({ labels: { status }, value: total(jobs.lifecycle, `runs_${status}`) })),
    },
    {
      name: 's3o_multipart_stale_aborted_total',
      help: 'Multipart uploads aborted by the stale upload GC (cleanup_queue.multipart_stale_timeout)',
      type: 'counter',
      samples: [{ value: total(jobs.multipartGc, 'aborted') }],
    },
  ];
}

/** For `admin status`: each job's last run, whether it left work, and its totals. */
export function lifecycleStatus(jobs: LifecycleJobs): Record<string, unknown> {
  const report = (lease: JobLease | undefined) => ({
    last_run_at: lease?.lastRunAt?.toISOString() ?? null,
    running: Boolean(lease?.holder),
    more_pending: lease?.more ?? false,
    totals: lease?.counters ?? {},
  });
  return { lifecycle: report(jobs.lifecycle), multipart_gc: report(jobs.multipartGc) };
}
