/**
 * Writing an object: choose a backend with room before reading the body, stream the body there while hashing it,
 * then record it (reserving its bytes) in one short transaction, and finally remove the copies it replaced.
 */
import { BackendError, describeError } from '../backends/client.ts';
import { copyBytes } from '../backends/copy-bytes.ts';
import { Refusal, isRequestFault } from './refusal.ts';
import { forgetObject } from './edge-cache.ts';
import { mustHashMd5, recordedEtag } from './etag-adoption.ts';
import type { Services } from '../services/services.ts';
import { isLiveCopy } from '../store/cleanup.ts';
import {
  BackendNotActiveError,
  type CompletedUpload,
  type NewObject,
  type PhysicalCopy,
  QuotaExceededError,
  UploadGoneError,
  findObject,
  recordObject,
} from '../store/objects.ts';
import { WriteRequirementError } from '../store/object-commit.ts';
import { isDatabaseUnavailable } from '../store/db.ts';
import { type BodyDigests, type DigestExpectations, pumpUpload } from './upload-pump.ts';
import type { ChunkSource } from '../util/chunk-source.ts';
import type { ChunkEncoder } from '../crypto/storage-transform.ts';
import type { CopyEncryption } from '../crypto/sealed-copy.ts';
import { countSealing, keyRefusal } from './sealing.ts';
import { discardCopies } from './discard-copies.ts';
import { type WriteCondition, checkWriteCondition, requirementRefusal, writeRequirement } from './conditions.ts';
import { newVersion, physicalKey } from './physical-key.ts';
import { forgetSpace, placeCopy } from './placement.ts';

export interface PutObjectInput {
  bucket: string;
  key: string;
  /** The client's bytes (decoded from aws-chunked framing where the upload used it). */
  source: ChunkSource;
  /** Client bytes. */
  size: number;
  contentType: string;
  metadata: Record<string, string>;
  headers: Record<string, string>;
  expect: Omit<DigestExpectations, 'length'>;
  /** If-None-Match: * / If-Match, checked before the upload and again when it is recorded. */
  condition?: WriteCondition | undefined;
}

export interface PutObjectResult {
  etag: string;
  checksum: BodyDigests['checksum'];
}

export async function putObject(services: Services, input: PutObjectInput): Promise<PutObjectResult> {
  const { storage } = services;
  const storedSize = storage.storedSize(input.size);
  const condition = input.condition;
  // Refuse a doomed conditional write before its body crosses the network.
  if (condition) checkWriteCondition(condition, await findObject(services.db(), input.bucket, input.key));
  // A first choice goes by the space read lately; one after a lost race (relocate) reads it again.
  const backendName = await chooseBackend(services, storedSize, { recentSpace: true });
  const version = newVersion(services.now());
  const physical = await physicalKey(input.bucket, input.key, version);
  const { encoder, encryption } = await startCopy(services, physical);
  const copy = { backendName, physicalKey: physical, storedSize, encryption };

  let digests: BodyDigests;
  let etag: string;
  const skipMd5 = !mustHashMd5(services, backendName, { sealed: encryption !== null, clientMd5: input.expect.md5Base64 !== undefined });
  try {
    let sent: { etag: string };
    ({ sent, digests } = await streamToBackend(services, input.source, { ...input.expect, skipMd5, length: input.size }, { storedSize, encoder }, (body) =>
      services.backend(backendName).putObject(copy.physicalKey, body, storedSize),
    ));
    etag = recordedEtag(services, backendName, digests.md5Hex, sent.etag);
  } catch (err) {
    // The backend may have stored something before failing; make sure it does not linger.
    await discardCopies(services, [copy], 'upload_failed');
    throw err;
  }

  await recordNewCopy(
    services,
    {
      bucket: input.bucket,
      key: input.key,
      version,
      size: input.size,
      etag,
      contentType: input.contentType,
      metadata: input.metadata,
      headers: input.headers,
      checksum: digests.checksum ?? null,
      contentSha256: digests.sha256Hex,
      copy,
    },
    condition,
  );
  return { etag, checksum: digests.checksum };
}

/**
 * Streams the client's bytes into a backend request body of known length (S3 needs Content-Length; workerd
 * streams it fastest that way) while the pump fills it. Rejects with what the client got wrong, or with a
 * ServiceUnavailable when the backend failed.
 */
export async function streamToBackend<T>(
  services: Services,
  source: ChunkSource,
  expect: DigestExpectations,
  stored: { storedSize: number; encoder: ChunkEncoder },
  send: (body: ReadableStream<Uint8Array>) => Promise<T>,
): Promise<{ sent: T; digests: BodyDigests }> {
  const { storedSize, encoder } = stored;
  const body = new FixedLengthStream(storedSize);
  const backendGaveUp = new AbortController();
  const [sent, pumped] = await Promise.allSettled([
    send(body.readable).catch((err: unknown) => {
      backendGaveUp.abort(err);
      throw err;
    }),
    pumpUpload(source, body.writable, { expect, encoder, signal: backendGaveUp.signal }),
  ]);
  if (sent.status === 'fulfilled' && pumped.status === 'fulfilled') return { sent: sent.value, digests: pumped.value };
  // What the client got wrong explains a failed upload better than the broken pipe it caused.
  if (pumped.status === 'rejected' && isRequestFault(pumped.reason)) throw pumped.reason;
  throw backendFailure(services, sent.status === 'rejected' ? sent.reason : pumped.status === 'rejected' ? pumped.reason : undefined);
}

/**
 * Records bytes already on a backend as the key's object, or removes them again when that fails (no room left,
 * a write condition that no longer holds); then deletes the copies the new object replaced.
 */
export async function recordNewCopy(
  services: Services,
  object: NewObject,
  condition?: WriteCondition,
  options: RecordOptions = {},
): Promise<void> {
  // This isolate's cached record of the key is stale from here on, whatever happens.
  forgetObject(services, object.bucket, object.key);
  let displaced;
  try {
    displaced = await record(services, object, condition, options);
  } catch (err) {
    const raceLost = err instanceof QuotaExceededError || err instanceof BackendNotActiveError;
    // What this isolate remembered of the backends' space is out of date.
    if (raceLost) forgetSpace(services);
    // Another writer took the last room on the chosen backend while these bytes travelled, or a drain started
    // there (placement may go by figures up to SPACE_CACHE_MS old). A plain upload moves; a completed multipart
    // upload (whose parts already held their room) is only told to retry.
    if (raceLost && options.completesUpload === undefined) {
      displaced = await relocate(services, object, condition, options.operation ?? 'PutObject');
    } else if (isDatabaseUnavailable(err)) {
      // The commit may have landed and only its answer been lost: deleting these bytes could delete the key's live
      // copy. Left where they are; if they are not recorded, reconcile finds them as an orphan.
      services.log.warn('the outcome of a write\'s record is unknown; its copy is left for reconcile', {
        bucket: object.bucket,
        key: object.key,
        backend: object.copy.backendName,
        physical_key: object.copy.physicalKey,
        error: describeError(err),
      });
      throw err;
    } else {
      // Every completion of one upload assembles the same physical key: one that lost the race to record it must
      // not delete what the winner recorded.
      const shared = options.completesUpload !== undefined && (await isLiveCopy(services.db(), object.copy.backendName, object.copy.physicalKey));
      if (!shared) await discardCopies(services, [object.copy], 'record_failed');
      if (err instanceof QuotaExceededError && (await roomElsewhere(services, object.copy.backendName, object.copy.storedSize))) {
        throw new Refusal('unavailable', 'The backend chosen for this object filled up meanwhile; please retry');
      }
      throw recordRefusal(err);
    }
  }
  await discardCopies(services, displaced, 'overwrite_displaced');
}

export interface RecordOptions {
  /** The object is the one a multipart upload assembled: its record replaces the upload's. */
  completesUpload?: CompletedUpload;
  /** How the bytes reached the backend (the write failover metric's label): a streamed body, or a server-side copy. */
  operation?: 'PutObject' | 'CopyObject';
}

function record(services: Services, object: NewObject, condition: WriteCondition | undefined, options: RecordOptions) {
  return recordObject(services.db(), object, condition && writeRequirement(condition), options);
}

/**
 * Moves bytes that lost the race for their backend's last room (or whose backend started draining meanwhile) to a
 * backend that still has room (a copy between backends, so the client does not send them again) and records them
 * there. When nothing has room the client gets
 * 507; when the move fails, or loses a second race, a retryable 503, never a false 507. Either way nothing lingers.
 * This is the only way a write moves on to another backend (s3o_write_failover_total): a backend that fails while
 * a body streams to it is not retried elsewhere, since the body is not kept (the client gets 503 and retries).
 */
async function relocate(services: Services, object: NewObject, condition: WriteCondition | undefined, operation: string): Promise<PhysicalCopy[]> {
  const { copy } = object;
  let target: string;
  try {
    target = await chooseBackend(services, copy.storedSize, { except: copy.backendName });
  } catch (err) {
    await discardCopies(services, [copy], 'record_failed');
    throw err;
  }
  const moved = { ...copy, backendName: target };
  try {
    await copyBytes(services.backend(copy.backendName), services.backend(target), copy.physicalKey, copy.storedSize);
  } catch (err) {
    await discardCopies(services, [copy, moved], 'record_failed');
    services.log.warn('could not move an upload that lost the race for its backend', { from: copy.backendName, to: target, error: describeError(err) });
    throw new Refusal('unavailable', 'The backend chosen for this object filled up meanwhile; please retry');
  }
  try {
    const displaced = await record(services, { ...object, copy: moved }, condition, {});
    await discardCopies(services, [copy], 'record_failed');
    services.log.info('upload moved to a backend with room after losing the race for its first', { from: copy.backendName, to: target });
    services.metrics.writeFailover(operation, copy.backendName, target);
    return displaced;
  } catch (err) {
    await discardCopies(services, [copy, moved], 'record_failed');
    if (err instanceof QuotaExceededError) throw new Refusal('unavailable', 'Every backend chosen for this object filled up meanwhile; please retry');
    throw recordRefusal(err);
  }
}

/** What a client is told when its bytes could not be recorded. */
function recordRefusal(err: unknown): unknown {
  if (err instanceof BackendNotActiveError) {
    // Placed just before a drain started: nothing was recorded, and a retry is placed elsewhere.
    return new Refusal('unavailable', 'The backend chosen for this object started draining; please retry');
  }
  if (err instanceof UploadGoneError) {
    return new Refusal('no-such-upload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
  }
  if (err instanceof QuotaExceededError) return new Refusal('no-room', 'No backend has room for this object');
  // A write condition that held before the upload but not at commit (another writer got there first).
  if (err instanceof WriteRequirementError) return requirementRefusal(err.failure);
  return err;
}

async function roomElsewhere(services: Services, full: string, storedSize: number): Promise<boolean> {
  try {
    await chooseBackend(services, storedSize, { except: full });
    return true;
  } catch {
    return false;
  }
}

/** A new copy's encoder and encryption record; a key that cannot wrap refuses the write before its body is read. */
export async function startCopy(services: Services, physical: string): Promise<{ encoder: ChunkEncoder; encryption: CopyEncryption | null }> {
  try {
    const started = await services.storage.writeCopy(physical);
    if (started.encryption) countSealing(services, 'encrypt');
    return started;
  } catch (err) {
    throw keyRefusal(services, err, 'encrypt');
  }
}

/** Refuses before any body byte is read, so clients waiting on 100-continue never send a doomed body. */
export async function chooseBackend(services: Services, storedSize: number, opts: { except?: string; recentSpace?: boolean } = {}): Promise<string> {
  const placed = await placeCopy(services, storedSize, { exclude: opts.except === undefined ? [] : [opts.except], recentSpace: opts.recentSpace ?? false });
  if (placed.ok) return placed.backend;
  // Writes overflow past backends over a monthly usage limit (507 when none is left) and past backends whose
  // circuit breaker is open (503 when only those are left).
  if (placed.reason === 'unavailable') throw new Refusal('unavailable', 'Every backend with room for this object is failing; please retry');
  if (placed.reason === 'over-usage-limit') {
    services.log.warn('write refused: every backend with room is over a monthly usage limit', { size: storedSize });
    services.counters.add('usage_limit_rejections:write');
  }
  throw new Refusal('no-room', 'No backend has room for this object');
}

export function backendFailure(services: Services, err: unknown): Error {
  services.log.error('backend write failed', { error: err instanceof Error ? err.message : String(err) });
  if (err instanceof BackendError) return new Refusal('unavailable', 'A storage backend failed; please retry');
  if (isRequestFault(err)) return err;
  return new Refusal('internal', 'We encountered an internal error. Please try again.');
}
