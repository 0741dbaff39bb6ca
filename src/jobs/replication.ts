/**
 * The replicator and the over-replication cleaner. A run holds a lease (runs never overlap across isolates),
 * makes up to `batch_size` objects whole again, then trims objects that have more copies than the factor. A run
 * happens when the interval has passed, when the settings or the deployment changed since the last run, when the
 * last run left work behind, or when an operator asks (admin replicate). Every step is idempotent: a replica is
 * recorded only while the copy it was made from is still live, and excess copies are trimmed under the key's lock
 * without ever going below the factor.
 */
import { mapBounded } from '../util/bounded.ts';
import type { BackendHealth } from '../backends/backend-health.ts';
import type { BackendClient } from '../backends/client.ts';
import { describeError } from '../backends/client.ts';
import { countsTowardFactor } from '../backends/backend-state.ts';
import { copyBytes } from '../backends/copy-bytes.ts';
import { writeRefusal } from '../backends/usage.ts';
import type { Config } from '../config/types.ts';
import { type CopyDiscarder, discardCopies } from '../objects/discard-copies.ts';
import { choosePlacement } from '../objects/placement.ts';
import type { Logger } from '../observe/log.ts';
import { backendModes } from '../store/backend-states.ts';
import type { Db } from '../store/db.ts';
import { type JobLease, acquireLease, addJobCounters, freeLease, readLease, releaseLease } from '../store/leases.ts';
import { backendSpace } from '../store/quotas.ts';
import { type ObjectCopies, countOverReplicated, dropExcessCopies, overReplicated, recordReplica, underReplicated } from '../store/replication.ts';
import type { BackendMode } from '../store/schema.ts';

export const REPLICATION_JOB = 'replication';

export interface ReplicationContext {
  config: Config;
  db: Db;
  backend(name: string): BackendClient | undefined;
  log: Logger;
  now: Date;
  /** Changes with every deployment, so the first tick after a deploy runs at once. */
  deployment: string;
  health: BackendHealth;
  /** Who starts the run ("cron", "admin"), named in the lease so that a skipped run can say who holds it. */
  trigger: string;
}

export type ReplicationRun =
  | { status: 'ok'; factor: number; copiesCreated: number; copiesRemoved: number; failures: number; more: boolean }
  | { status: 'skipped'; reason: string };

export async function runReplication(ctx: ReplicationContext, opts: { force: boolean }): Promise<ReplicationRun> {
  const settings = JSON.stringify({ ...ctx.config.replication, deployment: ctx.deployment });
  const holder = `${ctx.trigger} run ${crypto.randomUUID().slice(0, 8)}`;
  // A run that dies keeps the lease at most one interval; a run that fails gives it back at once.
  const ttlMs = ctx.config.replication.workerIntervalMs;
  const lease = await acquireLease(ctx.db, REPLICATION_JOB, holder, ttlMs, ctx.now);
  if (!lease) return { status: 'skipped', reason: await heldBy(ctx, ttlMs) };
  try {
    return await leasedRun(ctx, opts, holder, settings, lease);
  } catch (err) {
    await freeLease(ctx.db, REPLICATION_JOB, holder).catch(() => {});
    throw err;
  }
}

async function heldBy(ctx: ReplicationContext, ttlMs: number): Promise<string> {
  const held = await readLease(ctx.db, REPLICATION_JOB);
  if (!held?.holder || !held.expiresAt) return 'another replication run is in progress';
  const since = new Date(held.expiresAt.getTime() - ttlMs).toISOString();
  return `another replication run is in progress (${held.holder}, since about ${since}; its lease expires at ${held.expiresAt.toISOString()} if it died)`;
}

async function leasedRun(ctx: ReplicationContext, opts: { force: boolean }, holder: string, settings: string, lease: JobLease): Promise<ReplicationRun> {
  const due =
    opts.force ||
    lease.more ||
    lease.lastSettings !== settings ||
    !lease.lastRunAt ||
    ctx.now.getTime() - lease.lastRunAt.getTime() >= ctx.config.replication.workerIntervalMs;
  if (!due) {
    await freeLease(ctx.db, REPLICATION_JOB, holder);
    return { status: 'skipped', reason: 'not due yet' };
  }
  const modes = await backendModes(ctx.db);
  const mode = (name: string): BackendMode => modes.get(name) ?? 'active';
  const configured = ctx.config.backends.map((b) => b.name);
  await ctx.health.refresh(configured);
  const now = ctx.now.getTime();
  // Unhealthy for longer than the threshold: its copies stop counting, so replacements are made elsewhere (and
  // the extras are trimmed once it is back).
  const longUnhealthy = (name: string) => {
    const since = ctx.health.state(name).unhealthySince;
    return since !== undefined && now - since >= ctx.config.replication.unhealthyThresholdMs;
  };
  const active = configured.filter((name) => {
    const backend = ctx.config.backends.find((b) => b.name === name);
    const withinLimits = !backend || writeRefusal(ctx.health.usage(name), backend, 0, now) === undefined;
    return mode(name) === 'active' && ctx.health.writable(name) && withinLimits;
  });
  // Copies on a backend that is still configured, not retired and not long unhealthy count toward the factor.
  const counted = configured.filter((name) => countsTowardFactor(mode(name)) && !longUnhealthy(name));
  const factor = Math.min(ctx.config.replication.factor, Math.max(1, configured.filter((name) => mode(name) === 'active').length));
  const discarder = discarderFor(ctx);

  let copiesCreated = 0;
  let failures = 0;
  let cursor: { bucket: string; key: string } | null = null;
  let more = false;
  if (factor > 1) {
    const batch = await underReplicated(ctx.db, factor, counted, lease.cursor ?? undefined, ctx.config.replication.batchSize);
    more = batch.length === ctx.config.replication.batchSize;
    const last = batch[batch.length - 1];
    cursor = more && last ? { bucket: last.bucket, key: last.key } : null;
    const results = await mapBounded(batch, ctx.config.replication.concurrency, (object) => replicateObject(ctx, discarder, object, factor, active, counted));
    for (const r of results) {
      copiesCreated += r.created;
      failures += r.failed;
    }
  }
  // As in the reference, the cleaner runs on its own only while replication is on; admin over-replication
  // --execute trims at any factor.
  const copiesRemoved = factor > 1 ? await trimExcess(ctx, discarder, factor, mode, ctx.config.replication.batchSize, { waitForUnhealthy: true }) : 0;
  await releaseLease(ctx.db, REPLICATION_JOB, holder, {
    lastRunAt: ctx.now,
    lastSettings: settings,
    cursor,
    more,
    add: { copies_created: copiesCreated, errors: failures, over_replication_removed: copiesRemoved, runs: 1 },
  });
  if (copiesCreated + copiesRemoved + failures > 0) ctx.log.info('replication run', { factor, copies_created: copiesCreated, copies_removed: copiesRemoved, failures, more });
  return { status: 'ok', factor, copiesCreated, copiesRemoved, failures, more };
}

async function replicateObject(
  ctx: ReplicationContext,
  discarder: CopyDiscarder,
  object: ObjectCopies,
  factor: number,
  active: readonly string[],
  counted: readonly string[],
): Promise<{ created: number; failed: number }> {
  let created = 0;
  let failed = 0;
  const holding = new Set(object.copies.map((c) => c.backendName));
  let have = object.copies.filter((c) => counted.includes(c.backendName)).length;
  // The oldest copy on a healthy backend, as reads choose.
  const source =
    object.copies.find((c) => ctx.backend(c.backendName) !== undefined && ctx.health.state(c.backendName).state === 'closed') ??
    object.copies.find((c) => ctx.backend(c.backendName) !== undefined);
  if (!source) return { created, failed: 1 };
  while (have < factor) {
    const candidates = active.filter((name) => !holding.has(name));
    const spaces = await backendSpace(ctx.db, candidates);
    const ordered = candidates.flatMap((name) => spaces.filter((s) => s.backendName === name));
    const target = choosePlacement(ctx.config.routingStrategy, ordered, source.storedSize);
    if (!target) {
      ctx.log.warn('replication found no backend with room for a copy', { bucket: object.bucket, key: object.key, size: source.storedSize });
      return { created, failed: failed + 1 };
    }
    holding.add(target);
    const targetCopy = { backendName: target, physicalKey: source.physicalKey, storedSize: source.storedSize };
    try {
      await copyBytes(discarder.backend(source.backendName), discarder.backend(target), source.physicalKey, source.storedSize);
    } catch (err) {
      ctx.log.warn('replica copy failed', { bucket: object.bucket, key: object.key, source: source.backendName, target, error: describeError(err) });
      await discardCopies(discarder, [targetCopy], 'replication_orphan');
      failed++;
      continue;
    }
    const outcome = await recordReplica(ctx.db, source, target);
    if (outcome === 'recorded') {
      created++;
      have++;
      continue;
    }
    // Overwritten or deleted meanwhile (nothing to replicate any more), or the target filled up.
    await discardCopies(discarder, [targetCopy], 'replication_orphan');
    if (outcome === 'source-gone') return { created, failed };
    failed++;
  }
  return { created, failed };
}

/**
 * Removes copies beyond the factor, lowest score first: draining, retired or unconfigured backends, then circuit-broken ones,
 * then the most utilised. On its own (`waitForUnhealthy`) the replicator leaves an object with a copy on a backend
 * whose breaker is not closed alone: that copy is what the extras stand in for, and it is trimmed (or kept) once
 * the backend answers again. An operator's --execute trims by score regardless.
 */
async function trimExcess(
  ctx: ReplicationContext,
  discarder: CopyDiscarder,
  factor: number,
  mode: (name: string) => BackendMode,
  limit: number,
  opts: { waitForUnhealthy: boolean },
): Promise<number> {
  await ctx.health.refresh(ctx.config.backends.map((b) => b.name));
  const healthy = (name: string) => ctx.health.state(name).state === 'closed';
  const excess = (await overReplicated(ctx.db, factor, limit)).filter((o) => !opts.waitForUnhealthy || o.copies.every((c) => healthy(c.backendName)));
  if (excess.length === 0) return 0;
  const spaces = await backendSpace(ctx.db, ctx.config.backends.map((b) => b.name));
  const configured = new Set(ctx.config.backends.map((b) => b.name));
  const score = (name: string) => {
    // A copy on a backend that is draining, retired or no longer configured goes first.
    if (mode(name) !== 'active' || !configured.has(name)) return 0;
    if (!healthy(name)) return 1;
    const space = spaces.find((s) => s.backendName === name);
    if (!space || space.bytesLimit === 0) return 2.5;
    return 2 + (1 - (space.bytesUsed + space.orphanBytes) / space.bytesLimit);
  };
  let removed = 0;
  for (const object of excess) {
    const order = object.copies.map((c) => c.backendName).sort((a, b) => score(a) - score(b));
    const dropped = await dropExcessCopies(ctx.db, object.bucket, object.key, factor, order);
    await discardCopies(discarder, dropped, 'over_replication');
    removed += dropped.length;
  }
  return removed;
}

/** admin over-replication --execute: trims up to `batchSize` over-replicated objects now, at any factor. */
export async function executeOverReplication(ctx: ReplicationContext, batchSize: number): Promise<number> {
  const modes = await backendModes(ctx.db);
  const discarder = discarderFor(ctx);
  const removed = await trimExcess(ctx, discarder, ctx.config.replication.factor, (name) => modes.get(name) ?? 'active', batchSize, { waitForUnhealthy: false });
  if (removed > 0) await addJobCounters(ctx.db, REPLICATION_JOB, { over_replication_removed: removed });
  return removed;
}

/** Objects with more copies than the factor (up to `cap` counted). */
export async function overReplicationPending(ctx: Pick<ReplicationContext, 'config' | 'db'>, cap = 10_000): Promise<{ factor: number; pending: number }> {
  const factor = ctx.config.replication.factor;
  return { factor, pending: await countOverReplicated(ctx.db, factor, cap) };
}

function discarderFor(ctx: ReplicationContext): CopyDiscarder {
  return {
    backend: (name) => {
      const client = ctx.backend(name);
      if (!client) throw new Error(`backend ${name} is not in the configuration`);
      return client;
    },
    db: () => ctx.db,
    log: ctx.log,
  };
}


