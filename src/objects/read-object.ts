/** Reading an object: the record from the database, the bytes from the first copy that answers. */
import { BackendError, describeError } from '../backends/client.ts';
import type { ByteRange } from '../util/byte-range.ts';
import { Refusal } from './refusal.ts';
import type { Services } from '../services/services.ts';
import { isDatabaseUnavailable } from '../store/db.ts';
import { type StoredObject, findObject } from '../store/objects.ts';
import { readRefusal } from '../backends/usage.ts';
import { evaluateReadConditions } from './conditions.ts';
import { physicalKeyBelongsTo } from './physical-key.ts';
import { type SelectedPart, selectPart } from './object-parts.ts';
import { resolveRange } from './range.ts';
import { type ReadPlan, needsParts } from '../crypto/storage-transform.ts';
import { partSegments } from '../store/object-parts.ts';
import { countSealing, keyRefusal, reportOpeningFailure } from './sealing.ts';
import type { ObjectLocationRow } from '../store/schema.ts';
import { verifiedBody, verifiesRead } from './verify-on-read.ts';
import { cacheable, cachedBody, entryUrl, keepInCache } from './edge-cache.ts';

/**
 * The object's record. While Postgres is unreachable, a record this isolate read recently still serves reads
 * (degraded mode); anything else gets 503 from the caller.
 */
export async function lookupObject(services: Services, bucket: string, key: string): Promise<StoredObject> {
  let object: StoredObject | undefined;
  try {
    object = await findObject(services.db(), bucket, key, { withCacheGeneration: services.config.cache.enabled });
  } catch (err) {
    const cached = isDatabaseUnavailable(err) ? services.memory.locations.get(bucket, key, services.now()) : undefined;
    if (!cached) throw err;
    services.log.warn('degraded read: metadata store unavailable, serving a cached record', { bucket, key });
    const first = cached.locations[0]?.backendName;
    if (first) services.waitUntil(services.health.countDegradedRead(first).catch(() => {}));
    return cached;
  }
  if (!object) {
    services.memory.locations.forget(bucket, key);
    throw new Refusal('no-such-object', 'The specified key does not exist.', { details: { Key: key } });
  }
  services.memory.locations.remember(object, services.now());
  return object;
}

export type OpenedObject =
  | { notModified: false; object: StoredObject; range: ByteRange | undefined; part: SelectedPart | undefined; body: ReadableStream<Uint8Array> }
  | { notModified: true; object: StoredObject };

/**
 * The record, the resolved range (from the Range header, or the part `partNumber` names) and a body from the first
 * copy that answers. When every copy is missing, or the part records are gone, the object was most likely
 * overwritten or deleted between the lookup and the fetch (replaced copies are deleted right after the new version
 * commits), so the record is read once more before giving up.
 */
export async function openObject(
  services: Services,
  bucket: string,
  key: string,
  requestHeaders: Headers,
  partNumber?: number,
): Promise<OpenedObject> {
  let object = await lookupObject(services, bucket, key);
  for (let attempt = 1; ; attempt++) {
    // Conditions are settled before any byte is fetched from a backend.
    if (evaluateReadConditions(requestHeaders, conditionTarget(object)) === 'not-modified') return { notModified: true, object };
    const selected = await selectBytes(services, object, requestHeaders, partNumber);
    let failures: string[] = [];
    let replaced = selected === 'replaced';
    if (selected !== 'replaced') {
      // A part of no bytes has nothing to fetch.
      if (selected.part && !selected.range) return { notModified: false, object, ...selected, body: emptyBody() };
      // A part read is never cached: parts are read by the multipart downloaders of large objects.
      const cacheUrl = !selected.part && cacheable(services, object) ? await entryUrl(object) : undefined;
      const kept = cacheUrl === undefined ? undefined : await cachedBody(services, object, cacheUrl, selected.range);
      if (kept) return { notModified: false, object, ...selected, body: kept };
      const opened = await openFirstCopy(services, object, selected.range);
      if (opened.body && opened.location) {
        const whole = !selected.range && !selected.part;
        const body = verifiesRead(services, object, whole) ? await verifiedBody(services, object, opened.location, opened.body) : opened.body;
        return { notModified: false, object, ...selected, body: cacheUrl !== undefined && whole ? keepInCache(services, object, cacheUrl, body) : body };
      }
      ({ failures } = opened);
      replaced = opened.allMissing;
    }
    const current = attempt === 1 && replaced ? await lookupObject(services, bucket, key) : undefined;
    if (!current || current.version === object.version) {
      services.log.error('every copy failed to read', { bucket, key, failures });
      throw new Refusal('internal', 'We encountered an internal error. Please try again.');
    }
    object = current;
  }
}

export type DescribedObject = { notModified: true; object: StoredObject } | { notModified: false; object: StoredObject; part: SelectedPart | undefined };

/** What HeadObject answers from the record alone: conditions, and the part `partNumber` names. */
export async function describeObject(services: Services, bucket: string, key: string, requestHeaders: Headers, partNumber?: number): Promise<DescribedObject> {
  for (let attempt = 1; ; attempt++) {
    const object = await lookupObject(services, bucket, key);
    if (evaluateReadConditions(requestHeaders, conditionTarget(object)) === 'not-modified') return { notModified: true, object };
    const part = partNumber === undefined ? undefined : await selectPart(services, object, partNumber);
    if (part !== 'replaced') return { notModified: false, object, part };
    // Overwritten since the lookup: the next lookup finds the new version (twice in a row is not worth chasing).
    if (attempt > 1) throw new Refusal('unavailable', 'The object changed while it was being read; please retry');
  }
}

/** The bytes a read wants: the part it names, the Range it sends (undefined: the whole object). */
async function selectBytes(
  services: Services,
  object: StoredObject,
  requestHeaders: Headers,
  partNumber: number | undefined,
): Promise<{ range: ByteRange | undefined; part: SelectedPart | undefined } | 'replaced'> {
  if (partNumber === undefined) return { range: resolveRange(requestHeaders.get('range'), object.size), part: undefined };
  const part = await selectPart(services, object, partNumber);
  return part === 'replaced' ? part : { range: part.range, part };
}

function emptyBody(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (c) => c.close() });
}

/**
 * Tries the copies oldest first, skipping backends whose circuit breaker is open (they are tried last, so an
 * object whose only copies sit behind open breakers is still attempted); the client sees one normal response, or
 * an error once every copy failed.
 */
async function openFirstCopy(
  services: Services,
  object: StoredObject,
  range: ByteRange | undefined,
): Promise<{ body?: ReadableStream<Uint8Array>; location?: ObjectLocationRow; allMissing: boolean; failures: string[] }> {
  const failures: string[] = [];
  let keyFailure: unknown;
  const configured = new Set(services.config.backends.map((b) => b.name));
  const reachable = object.locations.filter((l) => configured.has(l.backendName));
  if (reachable.length === 0 && object.locations.length > 0) {
    // A backend taken out of the configuration without a drain: its copies are recorded but cannot be reached.
    const backends = object.locations.map((l) => l.backendName);
    services.log.error('every copy of the object is on a backend no longer in the configuration; drain backends before removing them, or put the backend back', { bucket: object.bucket, key: object.key, backends });
    throw new Refusal('unavailable', 'Every copy of this object is on a storage backend that is not configured at the moment; please retry later');
  }
  let allMissing = reachable.length > 0;
  if (object.segments === undefined && reachable.some(needsParts)) {
    // A copy sealed per part is read through its parts' segments (HEAD never needs them); they are remembered with
    // the record, so a degraded read can still open it.
    object.segments = await partSegments(services.db(), object);
    services.memory.locations.remember(object, services.now());
  }
  await services.health.refresh(reachable.map((l) => l.backendName));
  const usable: typeof object.locations = [];
  const skipped: typeof object.locations = [];
  let overLimit = 0;
  for (const location of reachable) {
    const backend = services.config.backends.find((b) => b.name === location.backendName);
    if (backend && readRefusal(services.health.usage(location.backendName), backend, services.now()) !== undefined) {
      overLimit++;
      continue;
    }
    (await services.health.readable(location.backendName) ? usable : skipped).push(location);
  }
  if (overLimit > 0 && overLimit === reachable.length) {
    services.counters.add('usage_limit_rejections:read');
    throw new Refusal('usage-limit', 'Every copy of this object is on a backend over its monthly usage limit; please retry later');
  }
  if (skipped.length > 0) services.log.debug('copies skipped: circuit open', { backends: skipped.map((l) => l.backendName) });
  for (const location of [...usable, ...skipped]) {
    if (!(await physicalKeyBelongsTo(location.physicalKey, object.bucket, object.key))) {
      // Never read bytes another key wrote, whatever the record says.
      services.log.error('copy record points at another key\'s bytes; not read', { bucket: object.bucket, key: object.key, backend: location.backendName, physical_key: location.physicalKey });
      allMissing = false;
      failures.push(`${location.backendName}: record names another key's copy`);
      continue;
    }
    let plan: ReadPlan;
    try {
      plan = await services.storage.readCopy(location, object.size, range, object.segments);
    } catch (err) {
      // Its key is not configured (or the key service is away): another copy may still be readable.
      allMissing = false;
      keyFailure ??= err;
      failures.push(`${location.backendName}: ${describeError(err)}`);
      continue;
    }
    try {
      const response = await services.backend(location.backendName).getObject(location.physicalKey, plan.storedRange);
      const body = response.body ?? emptyBody();
      if (!location.encryption) return { body, location, allMissing: false, failures };
      countSealing(services, 'decrypt');
      const fields = { bucket: object.bucket, key: object.key, backend: location.backendName };
      const report = (err: unknown) => reportOpeningFailure(services, err, fields);
      // Bytes that do not open as sealed fail this copy before the client is answered: the next copy is tried.
      const opened = await plan.decode(body, report).catch((err: unknown) => {
        report(err);
        throw err;
      });
      return { body: opened, location, allMissing: false, failures };
    } catch (err) {
      if (!(err instanceof BackendError && err.status === 404)) allMissing = false;
      failures.push(describeError(err));
    }
  }
  if (keyFailure) throw keyRefusal(services, keyFailure, 'decrypt', { bucket: object.bucket, key: object.key });
  return { allMissing, failures };
}

export function conditionTarget(object: StoredObject): { etag: string; lastModified: Date } {
  return { etag: object.etag, lastModified: object.createdAt };
}

/** A body for the whole object or a range from its first answering copy; InternalError when none answers. */
export async function openStoredObject(services: Services, object: StoredObject, range?: ByteRange): Promise<ReadableStream<Uint8Array>> {
  const opened = await openFirstCopy(services, object, range);
  if (opened.body) return opened.body;
  services.log.error('every copy failed to read', { bucket: object.bucket, key: object.key, failures: opened.failures });
  throw new Refusal('internal', 'We encountered an internal error. Please try again.');
}
