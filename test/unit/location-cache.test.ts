import { describe, expect, it } from 'vitest';
import { MAX_ENTRIES, TTL_MS, cachedObject, forgetObject, rememberObject } from '../../src/objects/location-cache.ts';
import type { StoredObject } from '../../src/store/objects.ts';

const object = (key: string): StoredObject => ({
  bucket: 'b',
  key,
  version: 'v',
  size: 1,
  etag: '"x"',
  contentType: 'text/plain',
  metadata: {},
  headers: {},
  checksum: null,
  uploadId: null,
  createdAt: new Date(0),
  locations: [],
});

describe('location cache (degraded reads)', () => {
  it('is bounded: the least recently remembered records go first', () => {
    for (let i = 0; i <= MAX_ENTRIES; i++) rememberObject(object(`k${i}`), 1000);
    expect(cachedObject('b', 'k0', 1000)).toBeUndefined();
    expect(cachedObject('b', 'k1', 1000)?.key).toBe('k1');
    expect(cachedObject('b', `k${MAX_ENTRIES}`, 1000)?.key).toBe(`k${MAX_ENTRIES}`);
  });

  it('trusts a record for TTL_MS only, and forgets a key on request', () => {
    rememberObject(object('fresh'), 0);
    expect(cachedObject('b', 'fresh', TTL_MS)?.key).toBe('fresh');
    expect(cachedObject('b', 'fresh', TTL_MS + 1)).toBeUndefined();
    rememberObject(object('gone'), 0);
    forgetObject('b', 'gone');
    expect(cachedObject('b', 'gone', 0)).toBeUndefined();
  });
});
