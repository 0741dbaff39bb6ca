/** The key layout on backends: no client key can put a dot segment in a backend path (tenant confinement). */
import { describe, expect, it } from 'vitest';
import { UnsafePhysicalKeyError, backendCopySource, backendObjectUrl } from '../../src/backends/object-path.ts';
import { backendKeyKind, escapeDotSegments, keyOfPhysicalKey, newVersion, physicalKey, physicalKeyBelongsTo } from '../../src/objects/physical-key.ts';

const HOSTILE_KEYS = ['../x', 'a/../../x', './x', '..', '.', '%2e%2e/x', '../../other-bucket/planted', 'a/./b', '~../x', '~~./y', '...', 'a//b', '/x', 'x/'];
const backend = { endpoint: 'https://s3.example.com', bucket: 'store', forcePathStyle: true };

describe('physical keys', () => {
  it('never hold a dot segment, whatever the key', async () => {
    for (const key of HOSTILE_KEYS) {
      const physical = await physicalKey('photos', key, 'v1');
      expect(physical.startsWith('photos/')).toBe(true);
      expect(physical.split('/').some((s) => s === '.' || s === '..'), physical).toBe(false);
    }
  });

  it('map back to exactly the key they came from (the escape is reversible, so distinct keys never meet)', async () => {
    const seen = new Map<string, string>();
    for (const key of HOSTILE_KEYS) {
      const physical = await physicalKey('photos', key, 'v1');
      expect(keyOfPhysicalKey(physical)).toEqual({ bucket: 'photos', key });
      expect(seen.get(physical), `${key} and ${seen.get(physical)} share ${physical}`).toBeUndefined();
      seen.set(physical, key);
    }
    expect(escapeDotSegments('a/../b/./c')).toBe('a/~../b/~./c');
    expect(escapeDotSegments('~../x')).toBe('~~../x');
    expect(escapeDotSegments('.../x')).toBe('.../x');
  });

  it('belong only to the key they were made for (a record cannot send a read to another key\'s bytes)', async () => {
    for (const key of [...HOSTILE_KEYS, 'a'.repeat(1100), 'docs/report.pdf']) {
      const physical = await physicalKey('photos', key, 'v1');
      expect(await physicalKeyBelongsTo(physical, 'photos', key), key).toBe(true);
      expect(await physicalKeyBelongsTo(physical, 'photos', `${key}x`), key).toBe(false);
      expect(await physicalKeyBelongsTo(physical, 'other', key), key).toBe(false);
    }
    // Rows written before dot segments were escaped still read.
    expect(await physicalKeyBelongsTo('photos/~../x~v1', 'photos', '~../x')).toBe(true);
    expect(await physicalKeyBelongsTo('photos/no-version', 'photos', 'no-version')).toBe(false);
  });

  it('keep long keys hashed under the bucket', async () => {
    const physical = await physicalKey('photos', `../${'a'.repeat(1100)}`, 'v1');
    expect(physical).toMatch(/^photos\/~long\/[0-9a-f]{64}~v1$/);
    expect(keyOfPhysicalKey(physical)).toBeUndefined();
  });
});

describe('backend object URLs', () => {
  it('stay under the backend bucket and the key prefix after URL parsing, for every hostile key', async () => {
    for (const key of HOSTILE_KEYS) {
      const physical = await physicalKey('photos', key, 'v1');
      for (const forcePathStyle of [true, false]) {
        const url = new URL(backendObjectUrl({ ...backend, forcePathStyle }, physical, 'uploads='));
        const prefix = forcePathStyle ? '/store/photos/' : '/photos/';
        expect(url.pathname.startsWith(prefix), `${key} -> ${url.pathname}`).toBe(true);
        expect(decodeURIComponent(url.pathname.slice(prefix.length - 'photos/'.length))).toBe(physical);
        expect(url.search).toBe('?uploads=');
      }
      expect(decodeURIComponent(backendCopySource(backend, physical))).toBe(`/store/${physical}`);
    }
  });

  it('encode each segment as SigV4 canonical URIs do', () => {
    expect(backendObjectUrl(backend, "p/a b+c(!)*'%2e~v")).toBe('https://s3.example.com/store/p/a%20b%2Bc%28%21%29%2A%27%252e~v');
  });

  it('refuse a physical key with a dot segment (one made before the layout escaped them)', () => {
    expect(() => backendObjectUrl(backend, 'photos/../other/x~v')).toThrow(UnsafePhysicalKeyError);
    expect(() => backendCopySource(backend, 'photos/./x~v')).toThrow(UnsafePhysicalKeyError);
  });
});

describe('backend keys as sync and reconcile read them', () => {
  it('tell copies in the layout (bucket, key, version) from foreign objects', async () => {
    const version = newVersion(Date.UTC(2026, 0, 1));
    expect(backendKeyKind(await physicalKey('photos', 'a/~../b~c', version))).toEqual({ layout: true, bucket: 'photos', key: 'a/~../b~c', version });
    expect(backendKeyKind(`photos/x~${version}.0badc0de`)).toMatchObject({ layout: true, key: 'x' });
    expect(backendKeyKind(await physicalKey('photos', 'k'.repeat(2000), version))).toEqual({ layout: true, bucket: 'photos', key: undefined, version });
    for (const foreign of ['archive/photo.jpg', 'photos/x~notaversion', 'noslash~0000abcde0123456789abcdef', '~0000abcde0123456789abcdef']) {
      expect(backendKeyKind(foreign), foreign).toEqual({ layout: false });
    }
  });

  it('let a record point at an adopted foreign object by its own name, never at a name in the layout', async () => {
    expect(await physicalKeyBelongsTo('archive/photo.jpg', 'photos', 'archive/photo.jpg')).toBe(true);
    // A name shaped like another bucket's copy is never an adopted object.
    const other = 'other-bucket/secret~0000abcde0123456789abcd01';
    expect(await physicalKeyBelongsTo(other, 'photos', other)).toBe(false);
    expect(await physicalKeyBelongsTo('archive/photo.jpg', 'photos', 'archive/other.jpg')).toBe(false);
  });
});
