/**
 * The leased background jobs (lifecycle expiration, the stale multipart GC, rebalance, reconcile) as /metrics and
 * `admin status` show them: their totals and last run, kept with each job's lease in Postgres (so fleet-wide,
 * whichever isolate ran them).
 */
import { LIFECYCLE_JOB } from '../jobs/lifecycle.ts';
import { MULTIPART_GC_JOB } from '../jobs/multipart-gc.ts';
import { REBALANCE_JOB } from '../jobs/rebalance.ts';
import { RECONCILE_JOB } from '../jobs/reconcile.ts';
import type { MetricFamily } from '../observe/metrics.ts';
import type { Queryable } from '../store/db.ts';
import { type JobLease, readLease } from '../store/leases.ts';

const RUN_STATUSES = ['success', 'partial', 'error'] as const;

export interface LeasedJobs {
  lifecycle: JobLease | undefined;
  multipartGc: JobLease | undefined;
  rebalance: JobLease | undefined;
  reconcile: JobLease | undefined;
}

export async function readJobLeases(db: Queryable): Promise<LeasedJobs> {
  const [lifecycle, multipartGc, rebalance, reconcile] = await Promise.all([
    readLease(db, LIFECYCLE_JOB),
    readLease(db, MULTIPART_GC_JOB),
    readLease(db, REBALANCE_JOB),
    readLease(db, RECONCILE_JOB),
  ]);
  return { lifecycle, multipartGc, rebalance, reconcile };
}

export function leasedJobMetrics(jobs: LeasedJobs): MetricFamily[] {
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
    {
      name: 's3o_reconcile_missing_copies',
      help: 'Copies recorded whose bytes the last complete reconcile pass did not find on their backend',
      type: 'gauge',
      samples: [{ value: total(jobs.reconcile, 'last_missing') }],
    },
    {
      name: 's3o_reconcile_orphan_objects',
      help: "Objects in the orchestrator's layout that no record references (last complete reconcile pass)",
      type: 'gauge',
      samples: [{ value: total(jobs.reconcile, 'last_orphans') }],
    },
    { name: 's3o_reconcile_orphan_bytes', help: 'Bytes of those orphans', type: 'gauge', samples: [{ value: total(jobs.reconcile, 'last_orphan_bytes') }] },
    {
      name: 's3o_reconcile_foreign_objects',
      help: "Objects on backends that are not in the orchestrator's layout (last complete reconcile pass; never deleted)",
      type: 'gauge',
      samples: [{ value: total(jobs.reconcile, 'last_foreign') }],
    },
    {
      name: 's3o_reconcile_orphans_deleted_total',
      help: 'Orphans queued for deletion by reconcile (reconcile.delete_orphans)',
      type: 'counter',
      samples: [{ value: total(jobs.reconcile, 'orphans_deleted_queued') }],
    },
    { name: 's3o_reconcile_runs_total', help: 'Complete reconcile passes', type: 'counter', samples: [{ value: total(jobs.reconcile, 'passes') }] },
  ];
}

/** A leased job's last run, whether it holds its lease now, whether it left work, and its totals. */
export function leaseReport(lease: JobLease | undefined) {
  return {
    last_run_at: lease?.lastRunAt?.toISOString() ?? null,
    running: Boolean(lease?.holder),
    more_pending: lease?.more ?? false,
    totals: lease?.counters ?? {},
  };
}

/** For `admin status`: each job's last run, whether it left work, and its totals. */
export function jobsStatus(jobs: LeasedJobs): Record<string, ReturnType<typeof leaseReport>> {
  const report = leaseReport;
  return { lifecycle: report(jobs.lifecycle), multipart_gc: report(jobs.multipartGc), rebalance: report(jobs.rebalance), reconcile: report(jobs.reconcile) };
}
