/**
 * The edge cache: whole-object GETs of small objects are kept in the data center's cache (the Cache API), and
 * ranged GETs are answered from a kept whole object. An entry's URL names the object's version and the cache
 * generation covering it, both read with the record in the lookup's one statement: a write, an overwrite, a copy
 * onto the key or a multipart completion makes a new version, a delete leaves no record and a purge makes a new
 * generation, so from its commit on no data center serves what it replaced. The one exception is degraded mode,
 * where reads go by a record this isolate remembered (at most 10 minutes old, store/location-cache.ts) and so may
 * the cache. Objects with sealed copies are never kept: the cache would hold their plaintext.
 */
import { sha256Hex } from '../crypto/encoding.ts';
import type { Services } from '../services/services.ts';
import { recordCachePurge } from '../store/cache-purges.ts';
import type { StoredObject } from '../store/objects.ts';
import type { ByteRange } from '../util/byte-range.ts';

/** Whether reads of `object` go through the cache under the configuration in effect. */
export function cacheable(services: Services, object: StoredObject): boolean {
  const settings = services.config.cache;
  return settings.enabled && object.cacheGeneration !== undefined && object.size <= settings.maxObjectSize && object.locations.every((l) => !l.encryption);
}

/**
 * The entry's URL. The key is hashed: a client's key is data, and as a URL path its dot segments or escapes could
 * make two keys one entry. Bucket names are configuration (lower-case DNS labels); versions are ours.
 */
export async function entryUrl(object: StoredObject): Promise<string> {
  return `https://edge-cache.s3o.invalid/v1/${object.bucket}/${object.cacheGeneration ?? '0'}/${await sha256Hex(object.key)}/${encodeURIComponent(object.version)}`;
}

/**
 * The kept bytes of `object` (those of `range` when given), or undefined on a miss. A hit is checked against the
 * record's size before it is served; an entry that does not match is removed and counts as an eviction.
 */
export async function cachedBody(services: Services, object: StoredObject, url: string, range: ByteRange | undefined): Promise<ReadableStream<Uint8Array> | undefined> {
  let hit: Response | undefined;
  try {
    hit = await services.objectCache.match(url, range);
  } catch (err) {
    services.log.warn('the edge cache could not be read; reading a backend', { bucket: object.bucket, key: object.key, error: String(err) });
  }
  if (hit && answers(hit, object, range)) {
    services.metrics.cache('hit');
    services.timing.cache = 'hit';
    // A length the entry does not declare is checked as it streams: a short or long entry fails the read (as a
    // backend that breaks off would) and is removed, never passed off as the object.
    const length = range ? range.end - range.start + 1 : object.size;
    const body = hit.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    return body.pipeThrough(exactLength(length, () => services.waitUntil(evict(services, url))));
  }
  if (hit) {
    await hit.body?.cancel().catch(() => {});
    services.waitUntil(evict(services, url));
  }
  services.metrics.cache('miss');
  services.timing.cache = 'miss';
  return undefined;
}

/** Whether a cached response says it carries exactly the bytes asked for (a length it leaves out is checked later). */
function answers(hit: Response, object: StoredObject, range: ByteRange | undefined): boolean {
  const declared = hit.headers.get('content-length');
  const length = range ? range.end - range.start + 1 : object.size;
  if (declared !== null && Number(declared) !== length) return false;
  if (!range) return hit.status === 200;
  return hit.status === 206 && hit.headers.get('content-range') === `bytes ${range.start}-${range.end}/${object.size}`;
}

/**
 * `body` (the whole object, read from a backend) for the client, while a copy of it goes into the cache. The
 * cache's copy is stored only if it ends with exactly the record's size in bytes; a client that stops reading
 * early does not stop it (the object is small: at most cache.max_object_size is held for the slower reader).
 */
export function keepInCache(services: Services, object: StoredObject, url: string, body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const [forClient, forCache] = body.tee();
  const ttlSeconds = Math.max(1, Math.round(services.config.cache.ttlMs / 1000));
  const stored = services.objectCache.put(
    url,
    new Response(forCache.pipeThrough(exactLength(object.size)), {
      headers: { 'content-length': String(object.size), 'cache-control': `max-age=${ttlSeconds}`, etag: object.etag },
    }),
  );
  services.waitUntil(
    stored.catch(async (err: unknown) => {
      await forCache.cancel().catch(() => {});
      services.log.warn('an object was not kept in the edge cache', { bucket: object.bucket, key: object.key, error: String(err) });
    }),
  );
  return forClient;
}

/** Passes bytes through and fails the stream (calling `mismatch`) unless exactly `size` of them came. */
function exactLength(size: number, mismatch: () => void = () => {}): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  const fail = (controller: TransformStreamDefaultController<Uint8Array>, why: string) => {
    mismatch();
    controller.error(new Error(why));
  };
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.byteLength;
      if (seen > size) fail(controller, `the body is longer than the record's ${size} bytes`);
      else controller.enqueue(chunk);
    },
    flush(controller) {
      if (seen !== size) fail(controller, `the body ended after ${seen} of the record's ${size} bytes`);
    },
  });
}

/**
 * The key's record as this isolate remembers it is about to be replaced (a write or a delete): it is forgotten, and
 * the entry of its version is removed from this data center's cache now rather than when it expires. Entries other
 * data centers hold are unreachable after the commit all the same, and expire there.
 */
export function forgetObject(services: Services, bucket: string, key: string): void {
  const known = services.memory.locations.get(bucket, key, services.now());
  services.memory.locations.forget(bucket, key);
  if (!known || !cacheable(services, known)) return;
  services.waitUntil(entryUrl(known).then((url) => evict(services, url)));
}

/**
 * A copy of the object was found corrupt: an entry kept from it would hold its bytes, so none of the object's
 * entries is served again (a purge of its key as a prefix, which may also pass over entries of longer keys: they
 * are only read from a backend once more). Whether the cache is on now or not: it may have been when it was read.
 */
export async function purgeCorruptEntries(services: Services, bucket: string, key: string): Promise<void> {
  try {
    await recordCachePurge(services.db(), { bucket, prefix: key });
  } catch (err) {
    services.log.error('the edge cache entries of an object with a corrupt copy could not be purged; run `admin cache purge`', { bucket, key, error: String(err) });
  }
}

async function evict(services: Services, url: string): Promise<void> {
  try {
    if (await services.objectCache.delete(url)) services.metrics.cache('eviction');
  } catch (err) {
    services.log.warn('an edge cache entry could not be removed; it expires on its own', { error: String(err) });
  }
}
