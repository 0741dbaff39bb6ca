/**
 * `GET /admin/api/dashboard`: everything the dashboard's overview shows, in one answer it polls every few seconds:
 * the fleet (fleet-status.ts), each drain's live progress with an ETA, replication, the cleanup queue (stuck items
 * first), the jobs that run or ran, and the configuration history.
 */
import { countsTowardFactor, drainReport } from '../backends/backend-state.ts';
import { REPLICATION_JOB } from '../jobs/replication.ts';
import { SCRUB_JOB } from '../jobs/scrub.ts';
import { jobReport } from '../jobs/bulk-jobs.ts';
import { listVersions } from '../config/versions.ts';
import { recordedOn } from '../store/backend-states.ts';
import { latestJob } from '../store/bulk-jobs.ts';
import { CLEANUP_MAX_ATTEMPTS, cleanupOverview } from '../store/cleanup.ts';
import { readLease } from '../store/leases.ts';
import { countOverReplicated, countUnderReplicated } from '../store/replication.ts';
import { BULK_JOB_KINDS } from '../jobs/bulk-jobs.ts';
import type { AdminContext } from './api.ts';
import { fleetStatus } from './fleet-status.ts';
import { json } from './http.ts';
import { leaseReport } from './job-reports.ts';

/** Replication counts stop here: the page shows "10000+" rather than scanning a huge fleet every poll. */
const COUNT_CAP = 10_000;
const CLEANUP_ITEMS = 20;
const HISTORY = 20;

export async function dashboardRoute(context: AdminContext): Promise<Response> {
  const { services, active } = context;
  const db = services.db();
  const now = services.now();
  const names = active.config.backends.map((b) => b.name);
  const factor = active.config.replication.factor;
  const [fleet, drains, cleanup, replicationLease, scrubLease, bulk, history] = await Promise.all([
    fleetStatus(context),
    Promise.all(names.map((name) => drainOf(context, name, now))),
    cleanupOverview(db, new Date(now), CLEANUP_ITEMS),
    readLease(db, REPLICATION_JOB),
    readLease(db, SCRUB_JOB),
    Promise.all(BULK_JOB_KINDS.map((kind) => latestJob(db, kind))),
    context.store ? listVersions(context.store) : Promise.resolve([]),
  ]);
  const counted = fleet.backends.filter((b) => names.includes(b.name) && countsTowardFactor(modeOf(b.state))).map((b) => b.name);
  const [under, over] = await Promise.all([
    factor > 1 ? countUnderReplicated(db, factor, counted, COUNT_CAP) : Promise.resolve(0),
    countOverReplicated(db, factor, COUNT_CAP),
  ]);
  const drainOfBackend = new Map(names.map((name, i) => [name, drains[i]]));
  const configured = fleet.backends.filter((b) => b.state !== 'not-configured');
  return json(200, {
    generated_at: new Date(now).toISOString(),
    environment: context.environment === 'development' ? 'development' : 'production',
    storage: {
      bytes_used: sum(configured, (b) => b.bytes_used),
      bytes_limit: sum(configured, (b) => b.bytes_limit ?? 0),
      orphan_bytes: sum(configured, (b) => b.orphan_bytes),
      copies: sum(configured, (b) => b.objects),
      multipart_uploads: sum(configured, (b) => b.multipart_uploads),
    },
    ...fleet,
    backends: fleet.backends.map((b) => ({ ...b, ...(drainOfBackend.get(b.name) ? { drain: drainOfBackend.get(b.name) } : {}) })),
    replication: { factor, under_replicated: under, over_replicated: over, count_cap: COUNT_CAP, last_run: leaseReport(replicationLease) },
    cleanup_queue: {
      depth: cleanup.depth,
      due: cleanup.due,
      stuck: cleanup.stuck,
      max_attempts: CLEANUP_MAX_ATTEMPTS,
      items: cleanup.items.map((i) => ({
        backend: i.backendName,
        physical_key: i.physicalKey,
        reason: i.reason,
        size: i.size,
        attempts: i.attempts,
        stuck: i.attempts >= CLEANUP_MAX_ATTEMPTS,
        next_retry: i.nextRetry,
        last_error: i.lastError,
      })),
    },
    jobs: {
      ...fleet.jobs,
      replication: leaseReport(replicationLease),
      scrub: leaseReport(scrubLease),
      bulk: bulk.flatMap((job) => (job ? [jobReport(job)] : [])),
    },
    config: {
      active_version: active.version?.version ?? null,
      versions: history.slice(0, HISTORY).map((v) => ({ version: v.version, created_at: v.createdAt, source: v.source, by: v.by, ...(v.note !== undefined ? { note: v.note } : {}) })),
    },
  });
}

/** The backend's drain, live, with an ETA from its pace so far; undefined when it never had one. */
async function drainOf(context: AdminContext, name: string, now: number) {
  const state = await context.services.backendState(name).snapshot();
  if (!state.drain && state.mode !== 'draining') return undefined;
  const remaining = state.mode === 'draining' ? await recordedOn(context.services.db(), name) : { objects: 0, bytes: 0, queuedDeletes: 0 };
  const report = drainReport(state, remaining);
  return { ...report, eta_seconds: report.active ? etaSeconds(report, now) : null };
}

/** Bytes (or, for empty objects, copies) still to move at the pace so far; null before there is a pace. */
function etaSeconds(report: ReturnType<typeof drainReport>, now: number): number | null {
  const started = report.started_at === undefined ? NaN : Date.parse(String(report.started_at));
  const elapsed = (now - started) / 1000;
  if (!(elapsed > 0)) return null;
  const [done, left] = report.bytes_moved > 0 ? [report.bytes_moved, report.bytes_remaining] : [report.objects_moved + report.copies_dropped, report.objects_remaining];
  if (done <= 0) return null;
  return Math.ceil((left / done) * elapsed);
}

/** The placement mode behind a reported state (an open breaker still counts toward the factor). */
function modeOf(state: string): 'active' | 'draining' | 'drained' | 'removed' {
  if (state === 'draining' || state === 'drained' || state === 'removed') return state;
  return 'active';
}

function sum<T>(rows: readonly T[], value: (row: T) => number): number {
  return rows.reduce((total, row) => total + value(row), 0);
}
