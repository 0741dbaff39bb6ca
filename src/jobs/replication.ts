/**
 * The replicator and the over-replication cleaner. A run holds a lease (runs never overlap across isolates),
 * makes up to `batch_size` objects whole again, then trims objects that have more copies than the factor. A run
 * happens when the interval has passed, when the settings or the deployment changed since the last run, when the
 * last run left work behind, or when an operator asks (admin replicate). Every step is idempotent: a replica is
 * recorded only while the copy it was made from is still live, and excess copies are trimmed under the key's lock
 * without ever going below the factor.
 */
import { mapBounded } from '../util/bounded.ts';
import { describeError } from '../backends/client.ts';
import { countsTowardFactor } from '../backends/backend-state.ts';
import { copyBytes } from '../backends/copy-bytes.ts';
import { discardCopies } from '../objects/discard-copies.ts';
import { placeCopy } from '../objects/placement.ts';
import type { Services } from '../services/services.ts';
import { backendModes } from '../store/backend-states.ts';
import { type JobLease, acquireLease, addJobCounters, freeLease, readLease, releaseLease } from '../store/leases.ts';
import { backendSpace } from '../store/quotas.ts';
import { type ObjectCopies, countOverReplicated, dropExcessCopies, overReplicated, recordReplica, underReplicated } from '../store/replication.ts';
import type { BackendMode } from '../store/schema.ts';

export const REPLICATION_JOB = 'replication';

export interface ReplicationInput {
  /** Run even when not due (admin replicate). */
  force: boolean;
  /** Who starts the run ("cron", "admin"), named in the lease so that a skipped run can say who holds it. */
  trigger: string;
  /** The run's time (the cron tick's); the services' clock when absent. */
  now?: number;
}

export type ReplicationRun =
  | { status: 'ok'; factor: number; copiesCreated: number; copiesRemoved: number; failures: number; more: boolean }
  | { status: 'skipped'; reason: string };

export async function runReplication(services: Services, input: ReplicationInput): Promise<ReplicationRun> {
  // The deployment is in the settings, so the first tick after a deploy runs at once.
  const settings = JSON.stringify({ ...services.config.replication, deployment: services.deployment });
  const holder = `${input.trigger} run ${crypto.randomUUID().slice(0, 8)}`;
  const now = new Date(input.now ?? services.now());
  // A run that dies keeps the lease at most one interval; a run that fails gives it back at once.
  const ttlMs = services.config.replication.workerIntervalMs;
  const lease = await acquireLease(services.db(), REPLICATION_JOB, holder, ttlMs, now);
  if (!lease) return { status: 'skipped', reason: await heldBy(services, ttlMs) };
  try {
    return await leasedRun(services, input.force, now, holder, settings, lease);
  } catch (err) {
    await freeLease(services.db(), REPLICATION_JOB, holder).catch(() => {});
    throw err;
  }
}

async function heldBy(services: Services, ttlMs: number): Promise<string> {
  const held = await readLease(services.db(), REPLICATION_JOB);
  if (!held?.holder || !held.expiresAt) return 'another replication run is in progress';
  const since = new Date(held.expiresAt.getTime() - ttlMs).toISOString();
  return `another replication run is in progress (${held.holder}, since about ${since}; its lease expires at ${held.expiresAt.toISOString()} if it died)`;
}

async function leasedRun(services: Services, force: boolean, runAt: Date, holder: string, settings: string, lease: JobLease): Promise<ReplicationRun> {
  const { config, health } = services;
  const db = services.db();
  const due =
    force ||
    lease.more ||
    lease.lastSettings !== settings ||
    !lease.lastRunAt ||
    runAt.getTime() - lease.lastRunAt.getTime() >= config.replication.workerIntervalMs;
  if (!due) {
    await freeLease(db, REPLICATION_JOB, holder);
    return { status: 'skipped', reason: 'not due yet' };
  }
  const modes = await backendModes(db);
  const mode = (name: string): BackendMode => modes.get(name) ?? 'active';
  const configured = config.backends.map((b) => b.name);
  await health.refresh(configured);
  const now = runAt.getTime();
  // Unhealthy for longer than the threshold: its copies stop counting, so replacements are made elsewhere (and
  // the extras are trimmed once it is back).
  const longUnhealthy = (name: string) => {
    const since = health.state(name).unhealthySince;
    return since !== undefined && now - since >= config.replication.unhealthyThresholdMs;
  };
  // Copies on a backend that is still configured, not retired and not long unhealthy count toward the factor.
  const counted = configured.filter((name) => countsTowardFactor(mode(name)) && !longUnhealthy(name));
  const factor = Math.min(config.replication.factor, Math.max(1, configured.filter((name) => mode(name) === 'active').length));

  let copiesCreated = 0;
  let failures = 0;
  let cursor: { bucket: string; key: string } | null = null;
  let more = false;
  if (factor > 1) {
    const batch = await underReplicated(db, factor, counted, lease.cursor ?? undefined, config.replication.batchSize);
    more = batch.length === config.replication.batchSize;
    const last = batch[batch.length - 1];
    cursor = more && last ? { bucket: last.bucket, key: last.key } : null;
    const results = await mapBounded(batch, config.replication.concurrency, (object) => replicateObject(services, object, factor, counted));
    for (const r of results) {
      copiesCreated += r.created;
      failures += r.failed;
    }
  }
  // As in the reference, the cleaner runs on its own only while replication is on; admin over-replication
  // --execute trims at any factor.
  const copiesRemoved = factor > 1 ? await trimExcess(services, factor, mode, config.replication.batchSize, { waitForUnhealthy: true }) : 0;
  await releaseLease(db, REPLICATION_JOB, holder, {
    lastRunAt: runAt,
    lastSettings: settings,
    cursor,
    more,
    add: { copies_created: copiesCreated, errors: failures, over_replication_removed: copiesRemoved, runs: 1 },
  });
  if (copiesCreated + copiesRemoved + failures > 0) services.log.info('replication run', { factor, copies_created: copiesCreated, copies_removed: copiesRemoved, failures, more });
  return { status: 'ok', factor, copiesCreated, copiesRemoved, failures, more };
}

async function replicateObject(services: Services, object: ObjectCopies, factor: number, counted: readonly string[]): Promise<{ created: number; failed: number }> {
  const configured = (name: string) => services.config.backends.some((b) => b.name === name);
  let created = 0;
  let failed = 0;
  const holding = new Set(object.copies.map((c) => c.backendName));
  let have = object.copies.filter((c) => counted.includes(c.backendName)).length;
  // The oldest copy on a healthy backend, as reads choose.
  const source =
    object.copies.find((c) => configured(c.backendName) && services.health.state(c.backendName).state === 'closed') ??
    object.copies.find((c) => configured(c.backendName));
  if (!source) return { created, failed: 1 };
  while (have < factor) {
    const placed = await placeCopy(services, source.storedSize, { exclude: holding });
    if (!placed.ok) {
      services.log.warn('replication found no backend that may take a copy', { bucket: object.bucket, key: object.key, size: source.storedSize, reason: placed.reason });
      return { created, failed: failed + 1 };
    }
    const target = placed.backend;
    holding.add(target);
    const targetCopy = { backendName: target, physicalKey: source.physicalKey, storedSize: source.storedSize };
    try {
      await copyBytes(services.backend(source.backendName), services.backend(target), source.physicalKey, source.storedSize);
    } catch (err) {
      services.log.warn('replica copy failed', { bucket: object.bucket, key: object.key, source: source.backendName, target, error: describeError(err) });
      await discardCopies(services, [targetCopy], 'replication_orphan');
      failed++;
      continue;
    }
    const outcome = await recordReplica(services.db(), source, target);
    if (outcome === 'recorded') {
      created++;
      have++;
      continue;
    }
    // Overwritten or deleted meanwhile (nothing to replicate any more), or the target filled up.
    await discardCopies(services, [targetCopy], 'replication_orphan');
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
  services: Services,
  factor: number,
  mode: (name: string) => BackendMode,
  limit: number,
  opts: { waitForUnhealthy: boolean },
): Promise<number> {
  const { config, health } = services;
  const db = services.db();
  await health.refresh(config.backends.map((b) => b.name));
  const healthy = (name: string) => health.state(name).state === 'closed';
  const excess = (await overReplicated(db, factor, limit)).filter((o) => !opts.waitForUnhealthy || o.copies.every((c) => healthy(c.backendName)));
  if (excess.length === 0) return 0;
  const spaces = await backendSpace(db, config.backends.map((b) => b.name));
  const configured = new Set(config.backends.map((b) => b.name));
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
    const dropped = await dropExcessCopies(db, object.bucket, object.key, factor, order);
    await discardCopies(services, dropped, 'over_replication');
    removed += dropped.length;
  }
  return removed;
}

/** admin over-replication --execute: trims up to `batchSize` over-replicated objects now, at any factor. */
export async function executeOverReplication(services: Services, batchSize: number): Promise<number> {
  const modes = await backendModes(services.db());
  const removed = await trimExcess(services, services.config.replication.factor, (name) => modes.get(name) ?? 'active', batchSize, { waitForUnhealthy: false });
  if (removed > 0) await addJobCounters(services.db(), REPLICATION_JOB, { over_replication_removed: removed });
  return removed;
}

/** Objects with more copies than the factor (up to `cap` counted). */
export async function overReplicationPending(services: Services, cap = 10_000): Promise<{ factor: number; pending: number }> {
  const factor = services.config.replication.factor;
  return { factor, pending: await countOverReplicated(services.db(), factor, cap) };
}
