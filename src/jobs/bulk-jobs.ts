/**
 * The admin bulk jobs over copies, on the jobs queue: encrypt-existing, decrypt-existing and
 * rotate-encryption-key. Starting one records it (or reports the one of its kind already running). The producer
 * walks the matching copies in key order and records numbered batches (a keyset range each, so messages stay
 * small whatever the keys), then sends them; at most BATCHES_IN_FLIGHT are open at a time, and each batch that
 * finishes produces the next. A batch is processed copy by copy and adds its counts to the job exactly once.
 * Every message may arrive twice: the producer moves only from where it read the job, a batch already counted is
 * not processed again, and each copy is changed by compare-and-swap. A job that makes no progress for a minute
 * (its messages lost, e.g. with a local queue across a restart) gets its open batches sent again by the cron.
 */
import { errorFields } from '../observe/log.ts';
import type { JobMessage, Services } from '../services/services.ts';
import {
  type BatchCopy,
  type BatchCounts,
  type BatchRange,
  type CopyFilter,
  batchDone,
  copiesInRange,
  countCopies,
  finishBatch,
  findJob,
  nextPositions,
  openBatches,
  recordBatches,
  rewrapCopy,
  staleJobs,
  startJob,
  touchJob,
} from '../store/bulk-jobs.ts';
import type { BulkJobKind, BulkJobRow } from '../store/schema.ts';
import { randomHex } from '../crypto/encoding.ts';
import { KeyError, type KeyInfo } from '../crypto/key-provider.ts';
import { type CopyOutcome, rewriteCopy } from './rewrite-copy.ts';

export const BULK_JOB_KINDS: readonly BulkJobKind[] = ['encrypt-existing', 'decrypt-existing', 'rotate-encryption-key'];

interface KindRules {
  /** Copies per batch message (the seed's 100; 500 for rotation, which moves no data). */
  batchSize: number;
  /** The fleet counter for /metrics (`<name>:success|error`). */
  metric: string;
  filter(params: Record<string, string>): CopyFilter;
  process(services: Services, copy: BatchCopy): Promise<CopyOutcome>;
}

const KINDS: Record<BulkJobKind, KindRules> = {
  'encrypt-existing': {
    batchSize: 100,
    metric: 'encrypt_existing_objects',
    filter: () => ({ kind: 'unsealed' }),
    process: (services, copy) => rewriteCopy(services, copy, true),
  },
  'decrypt-existing': {
    batchSize: 100,
    metric: 'decrypt_existing_objects',
    filter: () => ({ kind: 'sealed' }),
    process: (services, copy) => rewriteCopy(services, copy, false),
  },
  'rotate-encryption-key': {
    batchSize: 500,
    metric: 'key_rotation_objects',
    filter: (params) => (params.oldKeyId ? { kind: 'wrapped-by', keyId: params.oldKeyId } : { kind: 'not-wrapped-by', keyId: params.primaryKeyId ?? '' }),
    process: rewrapOne,
  },
};

/** Batches recorded and not yet counted, per job: the queue holds a bounded backlog whatever the job's size. */
const BATCHES_IN_FLIGHT = 4;
/** A running job with no copy processed for this long has its open batches sent again. */
const STALE_MS = 60_000;
/** Copies of one batch worked on at once (each holds a GET and a PUT of the six connections an invocation may open). */
const COPIES_AT_ONCE = 2;

export type StartRefusal = { reason: 'not-enabled' | 'no-keys' | 'unknown-key' | 'is-primary'; error: string };
export type StartResult = { ok: true; job: BulkJobRow; created: boolean } | ({ ok: false } & StartRefusal);

/** Starts a job of `kind`, or reports the one already running. */
export async function startBulkJob(services: Services, kind: BulkJobKind, input: { oldKeyId?: string | undefined } = {}): Promise<StartResult> {
  const checked = await jobParams(services, kind, input);
  if (!checked.ok) return checked;
  const { params } = checked;
  const db = services.db();
  const estimated = await countCopies(db, KINDS[kind].filter(params));
  const started = await startJob(db, { id: `${kind.split('-')[0]}-${randomHex(6)}`, kind, params, estimated });
  if (!started.created) return { ok: true, ...started };
  services.log.warn('bulk job started', { job: started.job.id, kind, params, estimated });
  const job = (await produceBatches(services, started.job.id)) ?? started.job;
  return { ok: true, job, created: true };
}

type Params = { ok: true; params: Record<string, string> } | ({ ok: false } & StartRefusal);

async function jobParams(services: Services, kind: BulkJobKind, input: { oldKeyId?: string | undefined }): Promise<Params> {
  const refuse = (reason: StartRefusal['reason'], error: string) => ({ ok: false as const, reason, error });
  const accept = (params: Record<string, string>) => ({ ok: true as const, params });
  const keys = await services.storage.keys();
  if (kind === 'encrypt-existing') {
    return services.storage.sealing ? accept({}) : refuse('not-enabled', 'encryption is not enabled: set encryption.enabled and a key (master_key or vault), deploy, then run encrypt-existing');
  }
  if (!keys) return refuse('no-keys', 'no encryption key is configured: the keys that wrap the data keys must stay configured until this job is done');
  if (kind === 'decrypt-existing') return accept({});
  const primary = keys[0]!;
  if (input.oldKeyId === undefined) return accept({ primaryKeyId: primary.id });
  const old = keys.find((k) => k.id === input.oldKeyId || k.alias === input.oldKeyId);
  const known = keys.map((k) => `${k.alias} (${k.id})`).join(', ');
  // A data key wrapped by a key that is not configured cannot be unwrapped: the key must go back in previous_keys.
  if (!old) return refuse('unknown-key', `no configured key has id ${input.oldKeyId}; the configured keys are ${known}`);
  if (old.primary) return refuse('is-primary', await primaryRefusal(services, old, keys));
  return accept({ oldKeyId: old.id });
}

/**
 * The seed's procedure names the old key config-0 after making the new key primary, which today names the new
 * key: say so, and name what to run instead.
 */
async function primaryRefusal(services: Services, primary: KeyInfo, keys: readonly KeyInfo[]): Promise<string> {
  const counts = await Promise.all(keys.slice(1).map(async (k) => ({ key: k, copies: await countCopies(services.db(), { kind: 'wrapped-by', keyId: k.id }) })));
  const waiting = counts.filter((c) => c.copies > 0);
  const head = `${primary.alias} is ${primary.id}, the current primary key: data keys are already wrapped by it.`;
  if (waiting.length === 0) return `${head} No copy is wrapped by a previous key; nothing to rotate.`;
  const list = waiting.map((c) => `${c.key.alias} (${c.key.id}) wraps ${c.copies} copies`).join(', ');
  return `${head} Still wrapped by previous keys: ${list}. Run \`admin rotate-encryption-key --old-key-id ${waiting[0]!.key.alias}\`, or without --old-key-id to re-wrap every one.`;
}

export interface BatchMessage extends JobMessage, BatchRange {
  type: 'bulk-batch';
  job: string;
}

/**
 * The producer: records and sends the next batches while fewer than BATCHES_IN_FLIGHT are open. Returns the job
 * as it is after, or undefined when it is not running (or another producer moved it meanwhile).
 */
export async function produceBatches(services: Services, id: string): Promise<BulkJobRow | undefined> {
  const db = services.db();
  const job = await findJob(db, id);
  if (!job || job.status !== 'running') return undefined;
  const room = BATCHES_IN_FLIGHT - (job.batchesSent - job.batchesDone);
  if (job.produced || room <= 0) return job;
  const rules = KINDS[job.kind];
  const filter = rules.filter(job.params);
  let cursor = job.cursor;
  let produced = false;
  const batches: BatchRange[] = [];
  while (batches.length < room) {
    const positions = await nextPositions(db, filter, cursor, rules.batchSize);
    const through = positions.at(-1);
    if (through) {
      batches.push({ batch: job.batchesSent + batches.length, from: cursor, through, count: positions.length });
      cursor = through;
    }
    if (positions.length < rules.batchSize) {
      produced = true;
      break;
    }
  }
  const saved = await recordBatches(db, job, batches, { cursor, produced });
  if (!saved) return undefined;
  if (batches.length > 0) await services.jobs.sendBatch(batches.map((b) => batchMessage(job.id, b)));
  if (produced) services.log.info('bulk job producer done', { job: job.id, batches: saved.batchesSent, copies: saved.total });
  if (saved.status === 'complete') logCompletion(services, saved);
  return saved;
}

function batchMessage(job: string, range: BatchRange): BatchMessage {
  return { type: 'bulk-batch', job, ...range };
}

/** One batch: each of its copies processed, then its counts added to the job once. */
export async function runBatch(services: Services, message: BatchMessage): Promise<void> {
  const db = services.db();
  const job = await findJob(db, message.job);
  // A batch delivered again after it was counted has nothing left to do.
  if (!job || job.status !== 'running' || (await batchDone(db, job.id, message.batch))) return;
  const rules = KINDS[job.kind];
  // Copies added inside the range since it was sent are worked on too, up to twice the batch size.
  const copies = await copiesInRange(db, rules.filter(job.params), message.from, message.through, rules.batchSize * 2);
  const counts: BatchCounts = { succeeded: 0, failed: 0, skipped: Math.max(0, message.count - copies.length), bytes: 0 };
  const log = services.log.with({ job: job.id, batch: message.batch });
  let next = 0;
  const worker = async () => {
    for (let copy = copies[next++]; copy; copy = copies[next++]) {
      const done = await rules.process(services, copy).catch((err: unknown): CopyOutcome => ({ outcome: 'failed', error: errorFields(err).error as string }));
      if (done.outcome === 'succeeded') {
        counts.succeeded++;
        counts.bytes += done.bytes;
      } else if (done.outcome === 'skipped') {
        counts.skipped++;
      } else {
        counts.failed++;
        counts.lastError = `${copy.location.bucket}/${copy.location.key} on ${copy.location.backendName}: ${done.error}`;
        log.error('bulk job could not process a copy', { bucket: copy.location.bucket, key: copy.location.key, backend: copy.location.backendName, error: done.error });
      }
      await touchJob(db, job.id);
    }
  };
  await Promise.all(Array.from({ length: COPIES_AT_ONCE }, worker));
  const updated = await finishBatch(db, job.id, message.batch, counts);
  if (!updated) return;
  if (counts.succeeded > 0) services.counters.add(`${rules.metric}:success`, counts.succeeded);
  if (counts.failed > 0) services.counters.add(`${rules.metric}:error`, counts.failed);
  if (updated.status === 'complete') logCompletion(services, updated);
  else await produceBatches(services, job.id);
}

/** A batch the queue gave up on (dead-lettered): its copies count as failed, so the job can end; running it again retries them. */
export async function abandonBatch(services: Services, message: BatchMessage): Promise<void> {
  const db = services.db();
  const job = await findJob(db, message.job);
  if (!job || job.status !== 'running') return;
  const updated = await finishBatch(db, job.id, message.batch, {
    succeeded: 0,
    failed: message.count,
    skipped: 0,
    bytes: 0,
    lastError: `batch ${message.batch} was dead-lettered after the queue's retries; run the job again to retry its copies`,
  });
  if (!updated) return;
  services.counters.add(`${KINDS[job.kind].metric}:error`, message.count);
  if (updated.status === 'complete') logCompletion(services, updated);
  else await produceBatches(services, job.id);
}

/**
 * Cron: a running job with no progress for STALE_MS has its open batches sent again (their messages were lost,
 * or are stuck) and its producer run. Idempotent: a batch that arrives twice is counted once.
 */
export async function bulkJobWatch(services: Services): Promise<void> {
  const db = services.db();
  for (const job of await staleJobs(db, STALE_MS)) {
    const open = await openBatches(db, job.id);
    services.log.warn('bulk job made no progress for a minute; its open batches are sent again', { job: job.id, batches: open.map((b) => b.batch) });
    await touchJob(db, job.id);
    if (open.length > 0) await services.jobs.sendBatch(open.map((b) => batchMessage(job.id, b)));
    await produceBatches(services, job.id);
  }
}

/** Logs and announces (job.completed) a job's end; called by whichever batch finished it, once. */
function logCompletion(services: Services, job: BulkJobRow): void {
  const figures = { kind: job.kind, succeeded: job.succeeded, failed: job.failed, skipped: job.skipped, total: job.total };
  services.log.warn('bulk job complete', { job: job.id, ...figures });
  services.notify.emit({ type: 'job.completed', subject: String(job.id), data: { job: String(job.id), ...figures } });
}

async function rewrapOne(services: Services, copy: BatchCopy): Promise<CopyOutcome> {
  const { location } = copy;
  if (!location.encryption) return { outcome: 'skipped' };
  try {
    const rewrapped = await services.storage.rewrap(location.encryption);
    if (!(await rewrapCopy(services.db(), location, rewrapped))) return { outcome: 'skipped' };
    services.memory.locations.forget(location.bucket, location.key);
    return { outcome: 'succeeded', bytes: copy.object.size };
  } catch (err) {
    if (err instanceof KeyError) return { outcome: 'failed', error: `${err.message} (key ${err.keyId})` };
    throw err;
  }
}

/** What a job says about itself, in the seed's shape: `encrypted` / `decrypted` / `rotated` by kind. */
export function jobReport(job: BulkJobRow): Record<string, unknown> {
  const done = { 'encrypt-existing': 'encrypted', 'decrypt-existing': 'decrypted', 'rotate-encryption-key': 'rotated' }[job.kind];
  return {
    status: job.status,
    [done]: job.succeeded,
    failed: job.failed,
    total: job.produced ? job.total : Math.max(job.total, job.estimated),
    skipped: job.skipped,
    bytes: job.bytes,
    job: job.id,
    kind: job.kind,
    ...(job.params.oldKeyId ? { old_key_id: job.params.oldKeyId } : {}),
    started_at: job.createdAt.toISOString(),
    ...(job.finishedAt ? { finished_at: job.finishedAt.toISOString() } : {}),
    ...(job.lastError ? { last_error: job.lastError } : {}),
  };
}

export function isBatchMessage(body: unknown): body is BatchMessage {
  return (body as { type?: unknown } | null)?.type === 'bulk-batch';
}
