/**
 * Listing in the domain on PGlite: paging through a bucket with and without a delimiter, from any start, gives
 * exactly what S3's rules give when applied to the sorted keys by hand (the integration trace test checks that a
 * page is one statement).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type ListQuery, type ListResult, listKeys } from '../../../src/objects/list-keys.ts';
import { findObject } from '../../../src/store/objects.ts';
import { put } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const KEYS = [
  'a.txt',
  'photos/2024/01/a.jpg',
  'photos/2024/01/b.jpg',
  'photos/2024/02/c.jpg',
  'photos/2025/d.jpg',
  'photos/e.jpg',
  'photos/',
  'photos//double',
  'pho',
  'videos/x.mp4',
  'videos/y.mp4',
  'z/',
  'ünïcode/ä',
  'ünïcode/b',
  'emoji/😀/1',
  'emoji/😀/2',
  'emoji/😀x',
  'delim--a--b',
  'delim--c',
  `max/${String.fromCodePoint(0x10ffff)}`,
];

/** S3's rules applied by hand to the sorted keys: what one page must hold. */
function expected(keys: readonly string[], query: ListQuery): { entries: string[]; truncated: boolean } {
  const sorted = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const entries: string[] = [];
  for (const key of sorted) {
    if (!key.startsWith(query.prefix) || Buffer.compare(Buffer.from(key), Buffer.from(query.after)) <= 0) continue;
    const at = query.delimiter ? key.indexOf(query.delimiter, query.prefix.length) : -1;
    const entry = at < 0 ? key : key.slice(0, at + query.delimiter.length);
    if (entry === query.skipPrefix || entries.at(-1) === entry) continue;
    entries.push(entry);
  }
  return { entries: entries.slice(0, query.maxKeys), truncated: entries.length > query.maxKeys };
}

const entriesOf = (page: ListResult) =>
  [...page.contents.map((c) => c.key), ...page.commonPrefixes].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

async function world(): Promise<DomainWorld> {
  const w = await domainServices({ backends: ['b1'] });
  for (const [i, key] of KEYS.entries()) await put(w, key, bytesOf(10 + i, i));
  return w;
}

describe('listKeys', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('matches S3 grouping for every prefix, delimiter and page size', async () => {
    const w = await world();
    const queries: ListQuery[] = [];
    for (const prefix of ['', 'photos/', 'photos/2024/', 'pho', 'emoji/', 'delim', 'ü', 'nothing']) {
      for (const delimiter of ['', '/', '--', '😀']) {
        for (const maxKeys of [1, 2, 3, 1000]) queries.push({ bucket: BUCKET, prefix, delimiter, maxKeys, after: '' });
      }
    }
    for (const query of queries) {
      // Page through to the end as a client does: after the last entry, skipping a common prefix it ended on.
      let after = '';
      let skipPrefix: string | undefined;
      for (let page = 0; page < 50; page++) {
        const q = { ...query, after, skipPrefix };
        const result = await listKeys(w.services, q);
        const want = expected(KEYS, q);
        expect({ entries: entriesOf(result), truncated: result.isTruncated }, JSON.stringify(q)).toEqual(want);
        if (!result.isTruncated) break;
        after = result.lastEntry ?? '';
        skipPrefix = result.commonPrefixes.includes(after) ? after : undefined;
      }
    }
  });

  it('returns sizes, ETags and dates of the objects listed', async () => {
    const w = await world();
    const page = await listKeys(w.services, { bucket: BUCKET, prefix: 'videos/', delimiter: '/', maxKeys: 10, after: '' });
    expect(page.contents.map((c) => [c.key, c.size])).toEqual([
      ['videos/x.mp4', 10 + KEYS.indexOf('videos/x.mp4')],
      ['videos/y.mp4', 10 + KEYS.indexOf('videos/y.mp4')],
    ]);
    for (const c of page.contents) {
      const record = await findObject(w.db, BUCKET, c.key);
      expect([c.etag, c.createdAt.getTime()]).toEqual([record?.etag, record?.createdAt.getTime()]);
    }
  });
});
