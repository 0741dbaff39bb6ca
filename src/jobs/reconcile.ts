/**
 * The reconciler: under its lease, walks every backend's listing page by page (a few pages per cron tick, resuming
 * where the last tick stopped) and compares it with the records (backend-listing.ts). A pass reports copies whose
 * bytes are missing on their backend, orphans (bytes in the orchestrator's layout that no record references,
 * older than `orphan_min_age`) and foreign objects; with `delete_orphans` the orphans go to the cleanup queue,
 * which deletes them only if they are still not live when their turn comes. A pass starts every `interval`.
 */
import type { Services } from '../services/services.ts';
import { enqueueCleanup } from '../store/cleanup.ts';
import { type JobLease, acquireLease, freeLease, readLease, releaseLease } from '../store/leases.ts';
import { comparePage } from './backend-listing.ts';

export const RECONCILE_JOB = 'reconcile';
const PAGE_SIZE = 1000;
/** Pages one tick compares at most; the next tick goes on. */
const PAGES_PER_TICK = 5;
const LEASE_MS = 15 * 60_000;
/** Missing copies named in the log per page. */
const LOGGED_MISSING = 10;

/** Totals of the pass in progress ("pass_*") and of the last complete pass ("last_*"), kept with the lease. */
const TOTALS = ['missing', 'orphans', 'orphan_bytes', 'foreign', 'orphans_queued'] as const;
type Totals = Record<(typeof TOTALS)[number], number>;

export async function reconcileJob(services: Services, input: { scheduledTime: number }): Promise<void> {
  if (!services.config.reconcile.enabled) return;
  const run = await runReconcile(services, { now: input.scheduledTime, force: false });
  if (run.status === 'skipped') services.log.debug('reconcile skipped', { reason: run.reason });
}

export type ReconcileRun = { status: 'skipped'; reason: string } | { status: 'ok'; passDone: boolean; totals: Totals };

export async function runReconcile(services: Services, input: { now?: number; force: boolean }): Promise<ReconcileRun> {
  const db = services.db();
  const now = new Date(input.now ?? services.now());
  const holder = `reconcile ${crypto.randomUUID().slice(0, 8)}`;
  const lease = await acquireLease(db, RECONCILE_JOB, holder, LEASE_MS, now);
  if (!lease) {
    const held = await readLease(db, RECONCILE_JOB);
    return { status: 'skipped', reason: `another reconcile run is in progress (${held?.holder ?? 'unknown'})` };
  }
  try {
    const due = input.force || lease.more || !lease.lastRunAt || now.getTime() - lease.lastRunAt.getTime() >= services.config.reconcile.intervalMs;
    if (!due) {
      await freeLease(db, RECONCILE_JOB, holder);
      return { status: 'skipped', reason: 'not due yet' };
    }
    return await tick(services, lease, holder, now);
  } catch (err) {
    await freeLease(db, RECONCILE_JOB, holder).catch(() => {});
    throw err;
  }
}

async function tick(services: Services, lease: JobLease, holder: string, now: Date): Promise<ReconcileRun> {
  const { config } = services;
  const backends = config.backends.map((b) => b.name);
  // A pass in progress resumes at its backend and key; a new one starts at the first backend.
  const resuming = lease.more && lease.cursor?.backendName !== undefined && backends.includes(lease.cursor.backendName);
  let backendIndex = resuming ? backends.indexOf(lease.cursor!.backendName!) : 0;
  let after: string | undefined = resuming ? lease.cursor!.key || undefined : undefined;
  const start = (name: (typeof TOTALS)[number]) => (resuming ? (lease.counters[`pass_${name}`] ?? 0) : 0);
  const totals: Totals = { missing: start('missing'), orphans: start('orphans'), orphan_bytes: start('orphan_bytes'), foreign: start('foreign'), orphans_queued: start('orphans_queued') };

  let passDone = false;
  for (let pages = 0; pages < PAGES_PER_TICK; pages++) {
    const backend = backends[backendIndex];
    if (backend === undefined) {
      passDone = true;
      break;
    }
    const page = await comparePage(services, { backend, prefix: '', after, pageSize: PAGE_SIZE, minAgeMs: config.reconcile.orphanMinAgeMs, listedAt: now.getTime() });
    totals.missing += page.missing.length;
    for (const m of page.missing.slice(0, LOGGED_MISSING)) {
      services.log.warn('reconcile: a recorded copy is missing on its backend', { backend, bucket: m.bucket, key: m.key, physical_key: m.physicalKey });
    }
    const orphans = page.classified.filter((c) => c.verdict === 'unrecorded' && c.kind.layout);
    // Foreign whatever their age: they are never deleted, only reported.
    totals.foreign += page.classified.filter((c) => !c.kind.layout && (c.verdict === 'unrecorded' || c.verdict === 'recent')).length;
    totals.orphans += orphans.length;
    totals.orphan_bytes += orphans.reduce((sum, o) => sum + o.object.size, 0);
    if (config.reconcile.deleteOrphans && orphans.length > 0) {
      // The queue deletes them only if no record holds them by then (it checks each before deleting).
      await enqueueCleanup(
        services.db(),
        orphans.map((o) => ({ copy: { backendName: backend, physicalKey: o.object.key, storedSize: o.object.size }, reason: 'reconcile_orphan' as const, error: 'no record references it (reconcile)' })),
      );
      totals.orphans_queued += orphans.length;
    }
    if (page.next === undefined) {
      backendIndex++;
      after = undefined;
    } else after = page.next;
  }
  if (backends[backendIndex] === undefined) passDone = true;

  const passCounters = Object.fromEntries(TOTALS.map((name) => [`pass_${name}`, passDone ? 0 : totals[name]]));
  const lastCounters = passDone ? Object.fromEntries(TOTALS.map((name) => [`last_${name}`, totals[name]])) : {};
  await releaseLease(services.db(), RECONCILE_JOB, holder, {
    // A pass's time is when it started: the interval counts from there.
    lastRunAt: resuming ? (lease.lastRunAt ?? now) : now,
    lastSettings: JSON.stringify(config.reconcile),
    cursor: passDone ? null : { bucket: '', key: after ?? '', backendName: backends[backendIndex]! },
    more: !passDone,
    add: passDone ? { passes: 1, orphans_deleted_queued: totals.orphans_queued } : {},
    set: { ...passCounters, ...lastCounters },
  });
  if (passDone) {
    services.log.info('reconcile pass complete', { missing: totals.missing, orphans: totals.orphans, orphan_bytes: totals.orphan_bytes, foreign: totals.foreign, orphans_queued: totals.orphans_queued });
  }
  return { status: 'ok', passDone, totals };
}
