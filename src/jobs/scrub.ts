/**
 * The scrubber: each pass holds the `scrub` lease (passes never overlap across isolates), reads the next
 * `scrub_batch_size` copies in full, in (bucket, key, backend) order from where the last pass stopped, and compares
 * each with its version's content digest. A copy that does not match (or a sealed one that does not open) is
 * dropped by compare-and-swap and its bytes deleted, so the replicator makes a good copy from a healthy one; an
 * object's only copy is kept and logged. A copy that cannot be read (backend down, a 404 racing an overwrite, a key
 * not configured) gives no verdict and is skipped. The walk starts over at the end, so every copy is checked in
 * time. A pass is due when `scrub_interval` has passed (0: only `admin scrub`) or the settings changed.
 */
import { describeError } from '../backends/client.ts';
import { isCompositeDigest } from '../crypto/content-digest.ts';
import { countCheck, digestCopy, dropCorrupt } from '../objects/copy-integrity.ts';
import type { Services } from '../services/services.ts';
import { type CopyToCheck, copiesToScrub, versionParts } from '../store/integrity.ts';
import { type JobLease, acquireLease, freeLease, readLease, releaseLease } from '../store/leases.ts';
import { mapBounded } from '../util/bounded.ts';
import type { JobInput } from './job.ts';

export const SCRUB_JOB = 'scrub';

/** A pass that dies keeps the lease this long at least (it reads whole copies). */
const MIN_LEASE_MS = 15 * 60_000;
/** Copies read at the same time: each holds one of the six connections an invocation may open. */
const CONCURRENCY = 2;

export interface ScrubInput {
  /** Run even when not due or switched off (admin scrub). */
  force: boolean;
  trigger: string;
  /** Copies to check; `scrub_batch_size` when absent. */
  batchSize?: number | undefined;
  now?: number;
}

export interface ScrubCounts {
  checked: number;
  mismatches: number;
  dropped: number;
  skipped: number;
  errors: number;
}

export type ScrubRun = ({ status: 'ok'; more: boolean } & ScrubCounts) | { status: 'skipped'; reason: string };

export async function scrubJob(services: Services, input: JobInput): Promise<void> {
  const run = await runScrub(services, { force: false, trigger: 'cron', now: input.scheduledTime });
  if (run.status === 'skipped') services.log.debug('scrub skipped', { reason: run.reason });
}

export async function runScrub(services: Services, input: ScrubInput): Promise<ScrubRun> {
  const { integrity } = services.config;
  if (!input.force && integrity.scrubIntervalMs === 0) return { status: 'skipped', reason: 'scrub is off (integrity.scrub_interval is 0)' };
  const settings = JSON.stringify({ interval: integrity.scrubIntervalMs, batch: integrity.scrubBatchSize, deployment: services.deployment });
  const holder = `${input.trigger} run ${crypto.randomUUID().slice(0, 8)}`;
  const now = new Date(input.now ?? services.now());
  const ttlMs = Math.max(integrity.scrubIntervalMs, MIN_LEASE_MS);
  const lease = await acquireLease(services.db(), SCRUB_JOB, holder, ttlMs, now);
  if (!lease) return { status: 'skipped', reason: await heldBy(services) };
  try {
    return await leasedPass(services, input, now, holder, settings, lease);
  } catch (err) {
    await freeLease(services.db(), SCRUB_JOB, holder).catch(() => {});
    throw err;
  }
}

async function heldBy(services: Services): Promise<string> {
  const held = await readLease(services.db(), SCRUB_JOB);
  if (!held?.holder || !held.expiresAt) return 'another scrub pass is in progress';
  return `another scrub pass is in progress (${held.holder}; its lease expires at ${held.expiresAt.toISOString()} if it died)`;
}

async function leasedPass(services: Services, input: ScrubInput, runAt: Date, holder: string, settings: string, lease: JobLease): Promise<ScrubRun> {
  const db = services.db();
  const interval = services.config.integrity.scrubIntervalMs;
  const due = input.force || lease.lastSettings !== settings || !lease.lastRunAt || runAt.getTime() - lease.lastRunAt.getTime() >= interval;
  if (!due) {
    await freeLease(db, SCRUB_JOB, holder);
    return { status: 'skipped', reason: 'not due yet' };
  }
  const batchSize = input.batchSize ?? services.config.integrity.scrubBatchSize;
  const after = lease.cursor?.backendName === undefined ? undefined : { bucket: lease.cursor.bucket, key: lease.cursor.key, backendName: lease.cursor.backendName };
  const batch = await copiesToScrub(db, after, batchSize);
  const more = batch.length === batchSize;
  const last = batch.at(-1)?.location;
  const results = await mapBounded(batch, CONCURRENCY, (copy) => scrubCopy(services, copy));
  const tally = (...kinds: CopyResult[]) => results.filter((r) => kinds.includes(r)).length;
  const counts: ScrubCounts = {
    checked: tally('matched', 'kept', 'dropped'),
    mismatches: tally('kept', 'dropped'),
    dropped: tally('dropped'),
    skipped: tally('skipped'),
    errors: tally('error'),
  };
  await releaseLease(db, SCRUB_JOB, holder, {
    lastRunAt: runAt,
    lastSettings: settings,
    // At the end of the walk the next pass starts over.
    cursor: more && last ? { bucket: last.bucket, key: last.key, backendName: last.backendName } : null,
    more: false,
    add: { ...counts, runs: 1 },
  });
  if (counts.mismatches + counts.errors > 0) services.log.warn('scrub pass found problems', { ...counts });
  return { status: 'ok', more, ...counts };
}

/** `kept`: a mismatch whose copy stays (the object's only one, or its record changed meanwhile). */
type CopyResult = 'matched' | 'kept' | 'dropped' | 'skipped' | 'error';

/** One copy: its verdict, and the drop of a copy that failed it. */
async function scrubCopy(services: Services, { location, object }: CopyToCheck): Promise<CopyResult> {
  const fields = { bucket: object.bucket, key: object.key, backend: location.backendName };
  const expected = object.contentSha256;
  if (expected === null || !services.config.backends.some((b) => b.name === location.backendName)) return 'skipped';
  try {
    const partSizes = isCompositeDigest(expected) ? (await versionParts(services.db(), object)).map((p) => p.size) : undefined;
    const read = await digestCopy(services, object, location, partSizes);
    if (!read.ok && !read.corrupt) {
      services.log.info('scrub skipped a copy it could not read', { ...fields, error: read.error });
      return 'skipped';
    }
    const matched = read.ok && read.digest.digest === expected;
    countCheck(services, 'scrub', matched);
    if (matched) return 'matched';
    services.log.error('scrub found a copy that does not match its content digest', {
      ...fields,
      expected,
      ...(read.ok ? { actual: read.digest.digest } : { error: read.error }),
    });
    return (await dropCorrupt(services, object, location, 'scrub')) === 'dropped' ? 'dropped' : 'kept';
  } catch (err) {
    services.log.warn('scrub could not check a copy', { ...fields, error: describeError(err) });
    return 'error';
  }
}
