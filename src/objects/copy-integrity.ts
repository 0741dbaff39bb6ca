/**
 * Checking one copy against its version's content digest, and what happens to a copy that fails: its record is
 * dropped by compare-and-swap (never the object's last one) and its bytes deleted, so the replicator makes a good
 * copy again from a healthy one. Used by the scrub, backfill-checksums and verify-on-read.
 * Counters: integrity_checks:<operation>, integrity_errors:<operation> (see src/admin/fleet-metrics.ts).
 */
import { BackendError, describeError } from '../backends/client.ts';
import { type ContentDigest, createContentHasher, createSplitHasher } from '../crypto/content-digest.ts';
import { CiphertextError } from '../crypto/segment-cipher.ts';
import { needsParts } from '../crypto/storage-transform.ts';
import type { Services } from '../services/services.ts';
import { completeCleanup } from '../store/cleanup.ts';
import { type VersionRecord, dropCorruptCopy } from '../store/integrity.ts';
import { partSegments } from '../store/object-parts.ts';
import type { ObjectLocationRow } from '../store/schema.ts';
import { plainSource } from '../util/chunk-source.ts';
import { purgeCorruptEntries } from './edge-cache.ts';
import { reportOpeningFailure } from './sealing.ts';

export type IntegrityOperation = 'read' | 'scrub' | 'backfill';

/** Read buffer for a full read of a copy. */
const READ_CHUNK_BYTES = 256 * 1024;

/**
 * The digest of a copy's client bytes (opened when sealed), read in full. `unreadable` is no verdict (backend
 * down, a 404 racing an overwrite, a key not configured); `corrupt` is a sealed copy that does not open, which
 * is a mismatch whatever its digest.
 */
export type CopyDigest = { ok: true; digest: ContentDigest; md5: string[] | undefined } | { ok: false; corrupt: boolean; error: string };

/** `withMd5` also takes the MD5 of the whole copy (or of each part), to check a copy against its ETags. */
export async function digestCopy(
  services: Services,
  object: VersionRecord,
  location: ObjectLocationRow,
  partSizes: readonly number[] | undefined,
  withMd5 = false,
): Promise<CopyDigest> {
  let opened = false;
  const fields = { bucket: object.bucket, key: object.key, backend: location.backendName };
  try {
    const segments = needsParts(location) ? await partSegments(services.db(), object) : undefined;
    const plan = await services.storage.readCopy(location, object.size, undefined, segments);
    const response = await services.backend(location.backendName).getObject(location.physicalKey, plan.storedRange);
    const stored = response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    const body = await plan.decode(stored, (err) => reportOpeningFailure(services, err, fields));
    opened = true;
    const hasher = createContentHasher(partSizes);
    const md5 = withMd5 ? createSplitHasher('MD5', partSizes) : undefined;
    const source = plainSource(body);
    for (;;) {
      const chunk = await source.read(new ArrayBuffer(READ_CHUNK_BYTES));
      if (!chunk) break;
      await hasher.update(chunk);
      await md5?.update(chunk);
    }
    return { ok: true, digest: await hasher.finish(), md5: md5 && (await md5.finish()).digests };
  } catch (err) {
    if (err instanceof CiphertextError) {
      if (!opened) reportOpeningFailure(services, err, fields);
      return { ok: false, corrupt: true, error: describeError(err) };
    }
    return { ok: false, corrupt: false, error: err instanceof BackendError ? `${err.status}: ${describeError(err)}` : describeError(err) };
  }
}

/** A check's verdict, counted once per copy checked. */
export function countCheck(services: Services, operation: IntegrityOperation, matched: boolean): void {
  services.counters.add(`integrity_checks:${operation}`);
  if (!matched) services.counters.add(`integrity_errors:${operation}`);
}

export type CorruptCopyResult = 'dropped' | 'last-copy' | 'changed';

/**
 * Drops a copy found corrupt, unless it is the object's last (then it is kept and logged as an error: a damaged
 * copy is all there is) or the record changed meanwhile (overwritten, deleted, moved). Its bytes are queued for
 * deletion in the same transaction and deleted now; a failed delete stays queued for the cleanup cron.
 */
export async function dropCorrupt(
  services: Services,
  object: VersionRecord,
  location: Pick<ObjectLocationRow, 'backendName' | 'physicalKey'>,
  operation: IntegrityOperation,
): Promise<CorruptCopyResult> {
  const copy = { bucket: object.bucket, key: object.key, backendName: location.backendName, physicalKey: location.physicalKey };
  const fields = { bucket: object.bucket, key: object.key, version: object.version, backend: location.backendName, operation };
  const dropped = await dropCorruptCopy(services.db(), copy, object.version, operation === 'read' ? 'integrity_read_failed' : 'integrity_scrub_failed');
  if (dropped.outcome !== 'changed') await purgeCorruptEntries(services, object.bucket, object.key);
  if (dropped.outcome === 'last-copy') {
    services.log.error('corrupt copy kept: it is the object\'s only copy', fields);
    return 'last-copy';
  }
  if (dropped.outcome === 'changed') {
    services.log.info('corrupt copy not dropped: its record changed meanwhile', fields);
    return 'changed';
  }
  services.memory.locations.forget(object.bucket, object.key);
  services.log.error('corrupt copy dropped; replication makes a new one from a healthy copy', fields);
  try {
    await services.backend(location.backendName).deleteObject(location.physicalKey);
    await completeCleanup(services.db(), dropped.cleanupId);
  } catch (err) {
    services.log.warn('corrupt copy\'s bytes left for the cleanup queue', { ...fields, error: describeError(err) });
  }
  return 'dropped';
}
