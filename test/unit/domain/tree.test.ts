/**
 * The object browser's tree pages (src/store/tree.ts) on PGlite: directories and objects paged together in byte
 * order, directory rollups, keys whose bytes LIKE would misread, and the prefix's own key left out.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type TreeEntry, bucketTotals, treePage } from '../../../src/store/tree.ts';
import { findObject } from '../../../src/store/objects.ts';
import { put } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

/** Keys chosen to sit around '/' in byte order ('-' '.' < '/' < '0'), LIKE's wildcards, and multi-byte UTF-8. */
const KEYS = [
  'a', 'a%b', 'a_b', 'a-b', 'a.b', 'a0', 'ab', 'a/', 'a/x', 'a/y/z', 'a/y/zz', 'a/%/q', 'a/_', 'a/b', 'a/b2', 'a/b/c',
  'b/', 'z%/q', 'z_/q', 'zz', 'é', 'é/1', 'ÿ', '日本/x', '日本/y', '😀', '😀/deep/er', '\u007f',
];

/** Each key's size: distinct, so a wrong rollup shows. */
const sizeOf = (key: string) => 10 + KEYS.indexOf(key);

/** Byte order of UTF-8, which is what COLLATE "C" sorts by (JavaScript's own < compares UTF-16 units). */
function byteOrder(a: string, b: string): number {
  const [x, y] = [new TextEncoder().encode(a), new TextEncoder().encode(b)];
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** What a page walk must return, worked out in the plainest way: group every key by its name under the prefix. */
async function expectedTree(world: DomainWorld, prefix: string): Promise<TreeEntry[]> {
  const groups = new Map<string, string[]>();
  for (const key of KEYS) {
    if (!key.startsWith(prefix) || key === prefix) continue;
    const rest = key.slice(prefix.length);
    const slash = rest.indexOf('/');
    const name = slash < 0 ? rest : rest.slice(0, slash + 1);
    groups.set(name, [...(groups.get(name) ?? []), key]);
  }
  const entries: TreeEntry[] = [];
  for (const [name, keys] of groups) {
    const records = await Promise.all(keys.map((k) => findObject(world.db, BUCKET, k)));
    const dir = name.endsWith('/');
    entries.push({
      name,
      kind: dir ? 'dir' : 'object',
      objects: keys.length,
      bytes: keys.reduce((sum, k) => sum + sizeOf(k), 0),
      lastModified: new Date(Math.max(...records.map((r) => r!.createdAt.getTime()))),
      etag: dir ? null : records[0]!.etag,
    });
  }
  return entries.sort((a, b) => byteOrder(a.name, b.name));
}

/** Every page of a prefix at a page size, followed as the dashboard follows them. */
async function walkPages(world: DomainWorld, prefix: string, limit: number): Promise<{ entries: TreeEntry[]; pages: number }> {
  const entries: TreeEntry[] = [];
  let after = '';
  for (let pages = 1; ; pages++) {
    const page = await treePage(world.db, { bucket: BUCKET, prefix, after, limit });
    expect(page.entries.length).toBeLessThanOrEqual(limit);
    entries.push(...page.entries);
    if (!page.more) return { entries, pages };
    after = page.entries.at(-1)!.name;
  }
}

let world: DomainWorld;

beforeAll(async () => {
  world = await domainServices({ backends: ['b1'] });
  for (const key of KEYS) {
    await put(world, key, bytesOf(sizeOf(key), KEYS.indexOf(key)));
    // Distinct write times, so the newest-write rollup is checked against something.
    world.clock.advance(1000);
  }
}, DATABASE_START_TIMEOUT_MS);

describe('treePage', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  for (const prefix of ['', 'a/', 'a', 'a/y/', 'z', '日本/', '😀/', 'é']) {
    it(`prefix ${JSON.stringify(prefix)}: every page size walks the same entries, in byte order, with rollups`, async () => {
      const expected = await expectedTree(world, prefix);
      expect(expected.length).toBeGreaterThan(0);
      for (const limit of [1, 2, 3, 500]) {
        const walked = await walkPages(world, prefix, limit);
        expect(walked.entries, `page size ${limit}`).toEqual(expected);
        expect(walked.pages).toBe(Math.max(1, Math.ceil(expected.length / limit)));
      }
    });
  }

  it('the root mixes directories and objects in one byte order, "%" and "_" as plain bytes', async () => {
    const { entries } = await treePage(world.db, { bucket: BUCKET, prefix: '', after: '', limit: 500 });
    expect(entries.map((e) => e.name)).toEqual([
      'a', 'a%b', 'a-b', 'a.b', 'a/', 'a0', 'a_b', 'ab', 'b/', 'z%/', 'z_/', 'zz', '\u007f', 'é', 'é/', 'ÿ', '日本/', '😀', '😀/',
    ]);
    expect(entries.find((e) => e.name === 'a/')).toMatchObject({ kind: 'dir', objects: 9 });
    expect(entries.find((e) => e.name === 'a%b')).toMatchObject({ kind: 'object', objects: 1, bytes: sizeOf('a%b') });
  });

  it('a prefix without a trailing slash groups by what follows it; the prefix\'s own key is not an entry', async () => {
    const { entries } = await treePage(world.db, { bucket: BUCKET, prefix: 'a/b', after: '', limit: 500 });
    expect(entries.map((e) => [e.name, e.kind, e.objects])).toEqual([
      ['/', 'dir', 1],
      ['2', 'object', 1],
    ]);
    const marker = await treePage(world.db, { bucket: BUCKET, prefix: 'a/', after: '', limit: 500 });
    expect(marker.entries.map((e) => e.name)).not.toContain('');
  });

  it('resumes after a directory without repeating it, and after the last entry with nothing', async () => {
    const page = await treePage(world.db, { bucket: BUCKET, prefix: 'a/', after: 'y/', limit: 500 });
    expect(page).toEqual({ entries: [], more: false });
    const afterPercent = await treePage(world.db, { bucket: BUCKET, prefix: 'a/', after: '%/', limit: 1 });
    expect(afterPercent.entries.map((e) => e.name)).toEqual(['_']);
    expect(afterPercent.more).toBe(true);
  });

  it('an unknown bucket or a prefix nothing starts with is an empty page', async () => {
    expect(await treePage(world.db, { bucket: 'nope', prefix: '', after: '', limit: 10 })).toEqual({ entries: [], more: false });
    expect(await treePage(world.db, { bucket: BUCKET, prefix: 'q', after: '', limit: 10 })).toEqual({ entries: [], more: false });
  });
});

describe('bucketTotals', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('counts objects and client bytes per bucket in one grouped query', async () => {
    expect(await bucketTotals(world.db, [BUCKET, 'empty'])).toEqual([
      { bucket: BUCKET, objects: KEYS.length, bytes: KEYS.reduce((sum, k) => sum + sizeOf(k), 0) },
    ]);
  });
});
