import { describe, expect, it } from 'vitest';
import { MAX_ENTRIES, TTL_MS, createLocationCache } from '../../src/store/location-cache.ts';
import type { StoredObject } from '../../src/store/objects.ts';

const object = (key: string): StoredObject => ({
  bucket: 'b',
  key,
  version: 'v',
  size: 1,
  etag: '"x"',
  contentSha256: null,
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
    const cache = createLocationCache();
    for (let i = 0; i <= MAX_ENTRIES; i++) cache.remember(object(`k${i}`), 1000);
    expect(cache.get('b', 'k0', 1000)).toBeUndefined();
    expect(cache.get('b', 'k1', 1000)?.key).toBe('k1');
    expect(cache.get('b', `k${MAX_ENTRIES}`, 1000)?.key).toBe(`k${MAX_ENTRIES}`);
  });

  it('trusts a record for TTL_MS only, and forgets a key on request', () => {
    const cache = createLocationCache();
    cache.remember(object('fresh'), 0);
    expect(cache.get('b', 'fresh', TTL_MS)?.key).toBe('fresh');
    expect(cache.get('b', 'fresh', TTL_MS + 1)).toBeUndefined();
    cache.remember(object('gone'), 0);
    cache.forget('b', 'gone');
    expect(cache.get('b', 'gone', 0)).toBeUndefined();
  });
});
