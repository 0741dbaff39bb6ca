/**
 * The rebalancer: plans a pass (rebalance-plan.ts) over the backends that may give and take copies now, and carries
 * it out under a lease, so passes never overlap across isolates. A pass runs from the cron when enabled and due
 * (the interval passed, the settings or deployment changed, or the last pass left planned moves undone), or when
 * an operator asks (admin rebalance --execute). Each move copies the bytes, then swaps the record by
 * compare-and-swap (move-batch.ts): a client's overwrite or delete, a drain or a replica in between wins.
 */
import { writeRefusal } from '../backends/usage.ts';
import { freeBytes } from '../objects/placement.ts';
import type { Services } from '../services/services.ts';
import { type JobLease, acquireLease, freeLease, readLease, releaseLease } from '../store/leases.ts';
import { backendSpace } from '../store/quotas.ts';
import { smallestCopiesOn } from '../store/rebalance.ts';
import { type RebalanceBackend, type RebalancePlan, type RebalanceStrategy, participants, planRebalance } from './rebalance-plan.ts';
import { type MoveResult, moveBatch } from './move-batch.ts';

export const REBALANCE_JOB = 'rebalance';

/** A cron pass stops starting moves after this long; the next tick (a minute later) continues. */
const CRON_BUDGET_MS = 5 * 60_000;
/** An admin pass answers within the CLI's 30 s: it stops starting moves after this long and says what is left. */
const ADMIN_BUDGET_MS = 15_000;
/** Moves in one batch: the batch shares its database round trips (queueing ahead, the swaps). */
const MOVES_PER_BATCH = 500;
/** A pass that dies keeps the lease this long at most. */
const LEASE_MS = 20 * 60_000;

export interface RebalanceInput {
  trigger: 'cron' | 'admin';
  /** Moves at most this many copies (the configuration's batch_size when absent). */
  limit?: number;
  /** The pass's time (the cron tick's); the services' clock when absent. */
  now?: number;
}

export interface MoveCounts {
  moved: number;
  failed: number;
  skipped: number;
  bytes: number;
}

export type RebalanceRun =
  | { status: 'skipped'; reason: string; plan?: RebalancePlan }
  | ({ status: 'ok' | 'partial'; plan: RebalancePlan; left: number; errors: string[] } & MoveCounts);

/** The pass that would run now, without moving anything (admin rebalance --dry-run). */
export async function planPass(services: Services, limit?: number): Promise<RebalancePlan> {
  const { config } = services;
  const backends = await fleetView(services);
  const limitNow = limit ?? config.rebalance.batchSize;
  const taking = participants(backends);
  // One more than a pass moves, so the plan can tell that more would follow.
  const candidates = new Map(
    await Promise.all(taking.filter((b) => b.gives).map(async (b) => [b.name, await smallestCopiesOn(services.db(), b.name, limitNow + 1)] as const)),
  );
  return planRebalance({ strategy: config.rebalance.strategy, threshold: config.rebalance.threshold, limit: limitNow, backends, candidates });
}

/** A cron tick: a pass when rebalancing is enabled and one is due. */
export async function rebalanceJob(services: Services, input: { scheduledTime: number }): Promise<void> {
  if (!services.config.rebalance.enabled) return;
  const run = await runRebalance(services, { trigger: 'cron', now: input.scheduledTime });
  if (run.status === 'skipped') services.log.debug('rebalance skipped', { reason: run.reason });
}

/** One pass: under the lease, plan and move. An admin pass runs whatever the schedule and the enabled flag say. */
export async function runRebalance(services: Services, input: RebalanceInput): Promise<RebalanceRun> {
  const db = services.db();
  const now = new Date(input.now ?? services.now());
  const holder = `${input.trigger} pass ${crypto.randomUUID().slice(0, 8)}`;
  const lease = await acquireLease(db, REBALANCE_JOB, holder, LEASE_MS, now);
  if (!lease) return { status: 'skipped', reason: await heldBy(services) };
  const strategy = services.config.rebalance.strategy;
  try {
    return await leasedPass(services, input, now, holder, lease);
  } catch (err) {
    await releaseLease(db, REBALANCE_JOB, holder, { ...lastRun(services, lease, now), add: { [`runs:${strategy}/error`]: 1 } }).catch(() => {});
    throw err;
  }
}

async function heldBy(services: Services): Promise<string> {
  const held = await readLease(services.db(), REBALANCE_JOB);
  if (!held?.holder || !held.expiresAt) return 'another rebalance pass is in progress';
  return `another rebalance pass is in progress (${held.holder}; its lease expires at ${held.expiresAt.toISOString()} if it died)`;
}

/** The deployment is in the settings, so the first tick after a deploy runs at once. */
function settingsOf(services: Services): string {
  return JSON.stringify({ ...services.config.rebalance, deployment: services.deployment });
}

function lastRun(services: Services, lease: JobLease, now: Date) {
  return { lastRunAt: now, lastSettings: settingsOf(services), cursor: null, more: lease.more };
}

async function leasedPass(services: Services, input: RebalanceInput, now: Date, holder: string, lease: JobLease): Promise<RebalanceRun> {
  const db = services.db();
  const { strategy, intervalMs } = services.config.rebalance;
  if (input.trigger === 'cron') {
    const due = lease.more || lease.lastSettings !== settingsOf(services) || !lease.lastRunAt || now.getTime() - lease.lastRunAt.getTime() >= intervalMs;
    if (!due) {
      await freeLease(db, REBALANCE_JOB, holder);
      return { status: 'skipped', reason: 'not due yet' };
    }
  }
  const plan = await planPass(services, input.limit);
  if (plan.skip) {
    await releaseLease(db, REBALANCE_JOB, holder, {
      ...lastRun(services, lease, now),
      more: false,
      add: { [`skipped:${plan.skip}`]: 1 },
      set: { pending: 0 },
    });
    return { status: 'skipped', reason: SKIP_TEXT[plan.skip](plan), plan };
  }
  const deadline = services.now() + (input.trigger === 'cron' ? CRON_BUDGET_MS : ADMIN_BUDGET_MS);
  const { concurrency } = services.config.rebalance;
  const results: (MoveResult | undefined)[] = [];
  for (let i = 0; i < plan.moves.length; i += MOVES_PER_BATCH) {
    const batch = plan.moves.slice(i, i + MOVES_PER_BATCH);
    if (services.now() > deadline) results.push(...batch.map(() => undefined));
    else results.push(...(await moveBatch(services, batch, { concurrency, deadline, reasons: { source: 'rebalance_source_delete', target: 'rebalance_pending' } })));
  }
  const counts = tally(results);
  const left = results.filter((r) => r === undefined).length;
  const errors = results.flatMap((r) => (r?.kind === 'failed' ? [r.error] : []));
  const status = counts.failed > 0 ? 'partial' : 'ok';
  await releaseLease(db, REBALANCE_JOB, holder, {
    ...lastRun(services, lease, now),
    // Moves left by the budget or by the batch size are taken up on the next tick.
    more: left > 0 || plan.truncated,
    add: counterDeltas(strategy, counts, status === 'ok' ? 'success' : 'partial'),
    set: { pending: plan.moves.length - counts.moved },
  });
  if (counts.moved + counts.failed > 0) {
    services.log.info('rebalance pass', { strategy, moved: counts.moved, failed: counts.failed, skipped: counts.skipped, bytes: counts.bytes, left, imbalance: plan.imbalance });
  }
  for (const error of new Set(errors)) services.log.warn('rebalance could not move a copy', { error });
  return { status, plan, left, errors: [...new Set(errors)], ...counts };
}

const SKIP_TEXT: Record<NonNullable<RebalancePlan['skip']>, (plan: RebalancePlan) => string> = {
  threshold: (plan) => `imbalance ${percent(plan.imbalance)} is under the threshold ${percent(plan.threshold)}`,
  'too-few-backends': () => 'fewer than two backends with a quota may give or take copies',
  'no-moves': (plan) => `imbalance ${percent(plan.imbalance)}, but no copy can move (no room, or every candidate already has a copy where it would go)`,
};

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

function tally(results: readonly (MoveResult | undefined)[]): MoveCounts {
  const counts: MoveCounts = { moved: 0, failed: 0, skipped: 0, bytes: 0 };
  for (const r of results) {
    if (r?.kind === 'moved') {
      counts.moved++;
      counts.bytes += r.bytes;
    } else if (r?.kind === 'failed') counts.failed++;
    else if (r?.kind === 'skipped') counts.skipped++;
  }
  return counts;
}

/** The job's counters (metrics read them): "<name>:<strategy>/<status>" and "bytes:<strategy>". */
function counterDeltas(strategy: RebalanceStrategy, counts: MoveCounts, runStatus: string): Record<string, number> {
  return {
    [`moved:${strategy}/success`]: counts.moved,
    [`moved:${strategy}/failed`]: counts.failed,
    [`moved:${strategy}/skipped`]: counts.skipped,
    [`bytes:${strategy}`]: counts.bytes,
    [`runs:${strategy}/${runStatus}`]: 1,
  };
}

/** Every configured backend with a quota row, as the planner sees it now. */
async function fleetView(services: Services): Promise<RebalanceBackend[]> {
  const { config, health } = services;
  const names = config.backends.map((b) => b.name);
  const [spaces] = await Promise.all([backendSpace(services.db(), names), health.refresh(names)]);
  const now = services.now();
  return config.backends.flatMap((backend) => {
    const space = spaces.find((s) => s.backendName === backend.name);
    if (!space) return [];
    const usable = space.mode === 'active' && health.writable(backend.name);
    return [
      {
        name: backend.name,
        used: space.bytesUsed,
        limit: space.bytesLimit,
        free: freeBytes(space),
        accepts: usable && writeRefusal(health.usage(backend.name), backend, 0, now) === undefined,
        gives: usable,
      },
    ];
  });
}
