/**
 * Lifecycle expiration: each `lifecycle.rules[]` entry deletes the objects of its virtual bucket whose client key
 * starts with its prefix and whose last client write (objects.created_at, Last-Modified; moves, replicas and the
 * encryption jobs leave it alone) is at least `expiration_days` old. Hourly (src/jobs/periodic-run.ts), under the
 * job's lease. Each rule takes up to `batch_size` expired objects per run, in key order after where its last run
 * stopped (a row of its own in job_leases), so objects that cannot be deleted now do not hold back the rest; a
 * rule with more continues on the next tick. Objects go through the normal delete path, and only the version that
 * was found expired: a client that wrote the key meanwhile keeps its object. An object with a copy on a backend
 * that is unavailable (breaker not closed, or no longer configured) is left for a later run rather than filling
 * the cleanup queue; a rule whose whole batch fails stops until the next hourly run.
 */
import { errorFields } from '../observe/log.ts';
import { deleteObjectIfVersion } from '../objects/delete-object.ts';
import type { LifecycleRule } from '../config/types.ts';
import type { Services } from '../services/services.ts';
import { readLease, savePosition } from '../store/leases.ts';
import { type ExpiredObject, expiredObjectPage } from '../store/objects.ts';
import { mapBounded } from '../util/bounded.ts';
import { type PeriodicInput, type PeriodicRun, runWhenDue } from './periodic-run.ts';
import type { JobInput } from './job.ts';

export const LIFECYCLE_JOB = 'lifecycle';
const INTERVAL_MS = 60 * 60_000;
/** A run that dies holds the lease this long at most. */
const LEASE_MS = 15 * 60_000;
const DAY_MS = 24 * 60 * 60_000;
/** Deletes at a time (each holds one of the invocation's six connections while it runs). */
const CONCURRENCY = 4;

export type RunStatus = 'success' | 'partial' | 'error';

export interface RuleOutcome {
  bucket: string;
  prefix: string;
  deleted: number;
  failed: number;
  /** Written by a client (or deleted) after it was found expired: left as it is. */
  changed: number;
  /** Expired objects wait beyond this batch; the next tick continues. */
  more: boolean;
}

export interface LifecycleResult {
  status: RunStatus;
  deleted: number;
  failed: number;
  rules: RuleOutcome[];
  more: boolean;
  add: Record<string, number>;
}

export async function lifecycleJob(services: Services, input: JobInput): Promise<void> {
  const run = await runLifecycle(services, { trigger: 'cron', now: input.scheduledTime });
  if (run.status === 'skipped') services.log.debug('lifecycle skipped', { reason: run.reason });
}

export async function runLifecycle(services: Services, input: PeriodicInput): Promise<PeriodicRun<LifecycleResult>> {
  const { lifecycle } = services.config;
  if (lifecycle.rules.length === 0) return { status: 'skipped', reason: 'no lifecycle rules' };
  const job = { name: LIFECYCLE_JOB, intervalMs: INTERVAL_MS, leaseMs: LEASE_MS, settings: lifecycle, trigger: input.trigger, now: input.now ?? services.now(), force: input.force ?? false };
  return runWhenDue(services, job, (runAt) => expireAll(services, runAt));
}

async function expireAll(services: Services, runAt: Date): Promise<LifecycleResult> {
  const { config, health } = services;
  await health.refresh(config.backends.map((b) => b.name));
  const rules: RuleOutcome[] = [];
  for (const rule of config.lifecycle.rules) rules.push(await expireRule(services, rule, runAt));
  const deleted = rules.reduce((n, r) => n + r.deleted, 0);
  const failed = rules.reduce((n, r) => n + r.failed, 0);
  const status: RunStatus = failed === 0 ? 'success' : deleted > 0 ? 'partial' : 'error';
  const more = rules.some((r) => r.more);
  if (deleted + failed > 0) services.log.info('lifecycle run', { status, deleted, failed, more });
  return { status, deleted, failed, rules, more, add: { deleted, failed, [`runs_${status}`]: 1 } };
}

/** The job_leases row that remembers where a rule's next batch starts. */
function rulePositionName(rule: Pick<LifecycleRule, 'bucket' | 'prefix'>): string {
  return `${LIFECYCLE_JOB} rule ${JSON.stringify([rule.bucket, rule.prefix])}`;
}

async function expireRule(services: Services, rule: LifecycleRule, runAt: Date): Promise<RuleOutcome> {
  const db = services.db();
  const batchSize = services.config.lifecycle.batchSize;
  const positionName = rulePositionName(rule);
  const position = await readLease(db, positionName);
  const after = position?.cursor?.key ?? '';
  const writtenBefore = new Date(runAt.getTime() - rule.expirationDays * DAY_MS);
  const page = await expiredObjectPage(db, { bucket: rule.bucket, prefix: rule.prefix, writtenBefore, after, limit: batchSize });
  const outcomes = await mapBounded(page, CONCURRENCY, (object) => expireObject(services, rule, object));
  const count = (kind: string) => outcomes.filter((o) => o === kind).length;
  const failed = count('failed');
  const full = page.length === batchSize;
  const last = page[page.length - 1];
  // A full page continues after its last key (a short one starts over next time). A page that failed whole moves
  // on too, but waits for the next hourly run rather than spinning while backends are down.
  const stopped = page.length > 0 && failed === page.length;
  if (stopped) services.log.warn('lifecycle rule stopped for this run: every delete of its batch failed', { bucket: rule.bucket, prefix: rule.prefix, failed });
  const more = full && !stopped;
  await savePosition(db, positionName, { cursor: full && last ? { bucket: rule.bucket, key: last.key } : null, more });
  return { bucket: rule.bucket, prefix: rule.prefix, deleted: count('deleted'), failed, changed: count('changed'), more };
}

async function expireObject(services: Services, rule: LifecycleRule, object: ExpiredObject): Promise<'deleted' | 'changed' | 'failed'> {
  const fields = { bucket: rule.bucket, key: object.key, prefix: rule.prefix, expiration_days: rule.expirationDays };
  const configured = new Set(services.config.backends.map((b) => b.name));
  const unavailable = object.backends.filter((name) => !configured.has(name) || services.health.state(name).state !== 'closed');
  if (unavailable.length > 0) {
    services.log.warn('lifecycle delete postponed: a backend holding a copy is unavailable', { ...fields, backends: unavailable });
    return 'failed';
  }
  try {
    const outcome = await deleteObjectIfVersion(services, rule.bucket, object.key, object.version);
    if (outcome === 'deleted') services.log.info('lifecycle deleted object', fields);
    else services.log.info('lifecycle left object written since it expired', fields);
    return outcome;
  } catch (err) {
    services.log.warn('lifecycle delete failed', { ...fields, ...errorFields(err) });
    return 'failed';
  }
}
