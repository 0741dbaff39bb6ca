/**
 * The edge cache in the domain, with an in-memory stand-in for the Cache API (the integration test runs workerd's
 * own): whole reads fill it, whole and ranged reads are answered from it, and an overwrite, a delete, a purge or an
 * entry that does not match its record is never served.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deleteObject } from '../../../src/objects/delete-object.ts';
import { openObject } from '../../../src/objects/read-object.ts';
import { recordCachePurge } from '../../../src/store/cache-purges.ts';
import { expectConsistent, expectSameBytes, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const cacheOn = (maxObjectSize = '64KiB') => ({ cache: { enabled: true, max_object_size: maxObjectSize, ttl: '1m' } });

async function cacheCounts(world: DomainWorld): Promise<{ hits: number; misses: number; evictions: number }> {
  const families = await world.services.metrics.read();
  const value = (name: string) => {
    const family = families.find((f) => f.name === name);
    return family?.type === 'counter' ? family.samples.reduce((sum, s) => sum + s.value, 0) : Number.NaN;
  };
  return { hits: value('s3o_cache_hits_total'), misses: value('s3o_cache_misses_total'), evictions: value('s3o_cache_evictions_total') };
}

/** A read, with its (filling) copy into the cache finished. */
async function readSettled(world: DomainWorld, key: string, headers = new Headers()): Promise<Uint8Array> {
  const opened = await openObject(world.services, BUCKET, key, headers);
  if (opened.notModified) throw new Error('unexpected 304');
  const bytes = new Uint8Array(await new Response(opened.body).arrayBuffer());
  await world.settle();
  return bytes;
}

/** A world whose one 3000-byte object is kept in the cache, its entry then cut to `keep` bytes with `headers`. */
async function keptThenCut(seed: number, keep: number, headers: Headers): Promise<{ world: DomainWorld; bytes: Uint8Array; url: string }> {
  const world = await domainServices({ backends: ['b1'], document: cacheOn() });
  const bytes = bytesOf(3000, seed);
  await put(world, 'k', bytes);
  await readSettled(world, 'k');
  const [url, entry] = [...world.objectCache.entries][0] ?? [];
  if (!url || !entry) throw new Error('nothing cached');
  world.objectCache.entries.set(url, { body: entry.body.slice(0, keep), headers });
  return { world, bytes, url };
}

const backendReads = (world: DomainWorld) => world.backend('b1').calls.getObject;

describe('edge cache', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('keeps a whole read and answers later whole and ranged reads from it, without a backend call', async () => {
    const world = await domainServices({ backends: ['b1'], document: cacheOn() });
    const bytes = bytesOf(20_000, 1);
    await put(world, 'k', bytes);
    expectSameBytes(await readSettled(world, 'k'), bytes);
    expect(world.objectCache.entries.size).toBe(1);
    const before = backendReads(world);
    expectSameBytes(await readSettled(world, 'k'), bytes);
    expectSameBytes(await readSettled(world, 'k', new Headers({ range: 'bytes=100-199' })), bytes.slice(100, 200));
    expect(backendReads(world)).toBe(before);
    expect(await cacheCounts(world)).toEqual({ hits: 2, misses: 1, evictions: 0 });
    await expectConsistent(world);
  });

  it('never serves a replaced version: an overwrite and a delete are read as they committed, and the old entry goes', async () => {
    const world = await domainServices({ backends: ['b1'], document: cacheOn() });
    await put(world, 'k', bytesOf(5000, 2));
    await readSettled(world, 'k');
    const newer = bytesOf(6000, 3);
    await put(world, 'k', newer);
    await world.settle();
    expectSameBytes(await readSettled(world, 'k'), newer);
    expect((await cacheCounts(world)).evictions).toBe(1);
    await deleteObject(world.services, BUCKET, 'k');
    await expect(read(world, 'k')).rejects.toMatchObject({ reason: 'no-such-object' });
    await world.settle();
    expect(world.objectCache.entries.size).toBe(0);
    await expectConsistent(world);
  });

  it('a purge of the bucket or of a prefix sends the reads it covers back to the backends', async () => {
    const world = await domainServices({ backends: ['b1'], document: cacheOn() });
    await put(world, 'photos/a', bytesOf(1000, 4));
    await put(world, 'videos/b', bytesOf(1000, 5));
    await readSettled(world, 'photos/a');
    await readSettled(world, 'videos/b');
    await recordCachePurge(world.db, { bucket: BUCKET, prefix: 'photos/' });
    const before = backendReads(world);
    await readSettled(world, 'photos/a');
    await readSettled(world, 'videos/b');
    expect(backendReads(world)).toBe(before + 1);
    await recordCachePurge(world.db, { bucket: '', prefix: '' });
    await readSettled(world, 'videos/b');
    expect(backendReads(world)).toBe(before + 2);
    // The bucket-wide purge covers the prefix purge before it, which is dropped.
    expect(await world.database.query('select bucket, prefix from cache_purges')).toEqual([{ bucket: '', prefix: '' }]);
  });

  it('an entry that does not match its record is removed and the read goes to a backend', async () => {
    const { world, bytes, url } = await keptThenCut(6, 100, new Headers({ 'content-length': '100' }));
    expectSameBytes(await readSettled(world, 'k'), bytes);
    expect(await cacheCounts(world)).toMatchObject({ hits: 0, misses: 2, evictions: 1 });
    // The miss filled it again, correctly.
    expect(world.objectCache.entries.get(url)?.body.byteLength).toBe(3000);
  });

  it('an entry that declares no length is checked as it streams: a short one fails the read and is removed', async () => {
    const { world, bytes, url } = await keptThenCut(9, 2999, new Headers());
    await expect(readSettled(world, 'k')).rejects.toThrow(/ended after 2999 of the record's 3000 bytes/);
    await world.settle();
    expect(world.objectCache.entries.has(url)).toBe(false);
    expect(await cacheCounts(world)).toMatchObject({ evictions: 1 });
    expectSameBytes(await readSettled(world, 'k'), bytes);
  });

  it('keeps nothing over max_object_size, and nothing while it is off', async () => {
    const large = await domainServices({ backends: ['b1'], document: cacheOn('1KiB') });
    await put(large, 'big', bytesOf(2000, 7));
    await readSettled(large, 'big');
    expect(large.objectCache.entries.size).toBe(0);
    expect(await cacheCounts(large)).toEqual({ hits: 0, misses: 0, evictions: 0 });
    const off = await domainServices({ backends: ['b1'] });
    await put(off, 'k', bytesOf(200, 8));
    await readSettled(off, 'k');
    expect(off.objectCache.entries.size).toBe(0);
  });
});
