/**
 * Integrity in the domain: every write records the SHA-256 of the client's bytes (composite for multipart), the
 * backfill fills what is missing by compare-and-swap without skipping rows, the scrub drops a corrupt copy (never
 * the last, never an unreadable one) so replication replaces it, and verify-on-read judges only reads to the end.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { compositeSha256, createContentHasher } from '../../../src/crypto/content-digest.ts';
import { sha256Hex } from '../../../src/crypto/encoding.ts';
import { backfillPage } from '../../../src/jobs/backfill-checksums.ts';
import { runReplication } from '../../../src/jobs/replication.ts';
import { runScrub } from '../../../src/jobs/scrub.ts';
import { copyObject } from '../../../src/objects/copy-object.ts';
import { completeUpload, createUpload, MIN_PART_BYTES, requireUpload, uploadPart } from '../../../src/objects/multipart.ts';
import { openObject } from '../../../src/objects/read-object.ts';
import { findObject } from '../../../src/store/objects.ts';
import { expectConsistent, expectSameBytes, locations, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bodyOf, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const target = (key: string) => ({ bucket: BUCKET, key, contentType: 'application/octet-stream', metadata: {}, headers: {} });

async function digestOf(world: DomainWorld, key: string): Promise<string | null | undefined> {
  return (await findObject(world.db, BUCKET, key))?.contentSha256;
}

async function physicalOn(world: DomainWorld, key: string, backend: string): Promise<string> {
  const location = (await findObject(world.db, BUCKET, key))?.locations.find((l) => l.backendName === backend);
  if (!location) throw new Error(`no copy of ${key} on ${backend}`);
  return location.physicalKey;
}

const shaOf = (bytes: Uint8Array) => sha256Hex(new Uint8Array(bytes));

/** Flips one byte in the middle: same length, different bytes. */
const flip = (bytes: Uint8Array) => {
  const changed = bytes.slice();
  const i = Math.floor(changed.byteLength / 2);
  changed[i] = (changed[i] ?? 0) ^ 0xff;
  return changed;
};

async function multipartObject(world: DomainWorld, key: string, parts: Uint8Array[]): Promise<void> {
  const uploadId = await createUpload(world.services, target(key));
  const sent = [];
  for (const [i, bytes] of parts.entries()) {
    const upload = await requireUpload(world.services, uploadId, BUCKET, key);
    sent.push(await uploadPart(world.services, upload, { partNumber: i + 1, source: bodyOf(bytes), size: bytes.byteLength, expect: {} }));
  }
  const upload = await requireUpload(world.services, uploadId, BUCKET, key);
  await completeUpload(world.services, upload, sent.map((p, i) => ({ partNumber: i + 1, etag: p.etag })), undefined);
}

async function replicated(world: DomainWorld): Promise<void> {
  const run = await runReplication(world.services, { force: true, trigger: 'test' });
  expect(run).toMatchObject({ status: 'ok', failures: 0 });
}

describe('content digests on write', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('PutObject records the SHA-256 of the client bytes', async () => {
    const world = await domainServices({ backends: ['b1'] });
    const bytes = bytesOf(70_000, 3);
    await put(world, 'plain', bytes);
    expect(await digestOf(world, 'plain')).toBe(await shaOf(bytes));
    await put(world, 'empty', new Uint8Array());
    expect(await digestOf(world, 'empty')).toBe(await shaOf(new Uint8Array()));
  });

  it('CompleteMultipartUpload records the composite digest of the parts, and each part its own', async () => {
    const world = await domainServices({ backends: ['b1'] });
    const parts = [bytesOf(MIN_PART_BYTES, 1), bytesOf(1234, 2)];
    await multipartObject(world, 'mp', parts);
    const partDigests = [await shaOf(parts[0] ?? new Uint8Array()), await shaOf(parts[1] ?? new Uint8Array())];
    expect(await digestOf(world, 'mp')).toBe(await compositeSha256(partDigests));
    expect(await digestOf(world, 'mp')).toMatch(/^[0-9a-f]{64}-2$/);
    const rows = await world.database.query<{ sha256: string }>(`select sha256 from object_parts where key = 'mp' order by part_number`);
    expect(rows.map((r) => r.sha256)).toEqual(partDigests);
    // The split hasher agrees with the parts' own digests when it reads the assembled object.
    const hasher = createContentHasher(parts.map((p) => p.byteLength));
    await hasher.update(await read(world, 'mp'));
    expect((await hasher.finish()).digest).toBe(await digestOf(world, 'mp'));
  });

  it('CopyObject carries a plain digest server-side, computes it when streaming, and never carries a composite one without its parts', async () => {
    const world = await domainServices({ backends: ['b1'] });
    const bytes = bytesOf(5000, 4);
    await put(world, 'src', bytes);
    const source = await findObject(world.db, BUCKET, 'src');
    if (!source) throw new Error('no source');
    await copyObject(world.services, source, target('dst'));
    expect(world.backend('b1').calls.copyObject).toBe(1);
    expect(await digestOf(world, 'dst')).toBe(await shaOf(bytes));

    await multipartObject(world, 'mp', [bytesOf(MIN_PART_BYTES, 5), bytesOf(10, 6)]);
    const mp = await findObject(world.db, BUCKET, 'mp');
    if (!mp) throw new Error('no multipart source');
    await copyObject(world.services, mp, target('mp-copy'));
    expect(await digestOf(world, 'mp-copy')).toBeNull();
    await expectConsistent(world);
  });

  it('a streamed copy checks the source copy against its digest and refuses one that does not match', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    await put(world, 'src', bytesOf(4000, 7));
    world.backend('b1').tamper(await physicalOn(world, 'src', 'b1'), flip);
    const source = await findObject(world.db, BUCKET, 'src');
    if (!source) throw new Error('no source');
    // Fill b1 so the copy has to stream (a copy to the same backend would be server-side).
    world.backend('b1').failNext('copyObject');
    await expect(copyObject(world.services, source, target('dst'))).rejects.toMatchObject({ reason: 'internal' });
    expect(await findObject(world.db, BUCKET, 'dst')).toBeUndefined();
    await expectConsistent(world);
  });
});

describe('backfill-checksums', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('fills every missing digest page by page (keyset: none skipped), the composite one with its parts', async () => {
    const world = await domainServices({ backends: ['b1'] });
    const keys = ['a', 'b', 'c', 'd', 'e'];
    for (const [i, key] of keys.entries()) await put(world, key, bytesOf(100 + i, i));
    await multipartObject(world, 'mp', [bytesOf(MIN_PART_BYTES, 8), bytesOf(77, 9)]);
    const expected = new Map<string, string | null | undefined>();
    for (const key of [...keys, 'mp']) expected.set(key, await digestOf(world, key));
    await world.database.query('update objects set content_sha256 = null');
    await world.database.query('update object_parts set sha256 = null');

    let after: { bucket: string; key: string } | undefined;
    const totals = { processed: 0, filled: 0, skipped: 0, failed: 0 };
    for (let pages = 0; pages < 20; pages++) {
      const page = await backfillPage(world.services, after, 2);
      if (page.status !== 'ok') throw new Error(page.reason);
      totals.processed += page.processed;
      totals.filled += page.filled;
      totals.skipped += page.skipped;
      totals.failed += page.failed;
      if (!page.next) break;
      after = page.next;
    }
    expect(totals).toEqual({ processed: 6, filled: 6, skipped: 0, failed: 0 });
    for (const [key, digest] of expected) expect(await digestOf(world, key)).toBe(digest);
    const parts = await world.database.query<{ sha256: string | null }>(`select sha256 from object_parts where key = 'mp'`);
    expect(parts.every((p) => p.sha256 !== null)).toBe(true);
    expect(world.events.get('integrity_checks:backfill')).toBe(6);
  });

  it('never takes a damaged copy as the reference: it reads another, or fails the object', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2 });
    const bytes = bytesOf(3000, 1);
    await put(world, 'two', bytes);
    await put(world, 'one', bytesOf(3000, 2));
    await replicated(world);
    await world.database.query('update objects set content_sha256 = null');
    world.backend('b1').tamper(await physicalOn(world, 'two', 'b1'), flip);
    world.backend('b1').tamper(await physicalOn(world, 'one', 'b1'), flip);
    world.backend('b2').tamper(await physicalOn(world, 'one', 'b2'), flip);

    const page = await backfillPage(world.services, undefined, 10);
    expect(page).toMatchObject({ status: 'ok', processed: 2, filled: 1, failed: 1 });
    expect(await digestOf(world, 'two')).toBe(await shaOf(bytes));
    expect(await digestOf(world, 'one')).toBeNull();
    expect(world.events.get('integrity_errors:backfill')).toBe(3);
  });

  it('records a digest only while the object is still that version without one (CAS)', async () => {
    const world = await domainServices({ backends: ['b1'] });
    await put(world, 'k', bytesOf(2000, 1));
    await world.database.query('update objects set content_sha256 = null');
    // The client overwrites while the backfill reads the old copy.
    const held = world.backend('b1').hold('getObject');
    const page = backfillPage(world.services, undefined, 10);
    await held.reached;
    const newer = bytesOf(2000, 2);
    await put(world, 'k', newer);
    held.release();
    await expect(page).resolves.toMatchObject({ status: 'ok', processed: 1, filled: 0 });
    expect(await digestOf(world, 'k')).toBe(await shaOf(newer));
    await expectConsistent(world);
  });
});

describe('scrub', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('drops a corrupt copy (bytes released and deleted) and replication makes a good one again', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2 });
    const bytes = bytesOf(200_000, 5);
    await put(world, 'k', bytes);
    await multipartObject(world, 'mp', [bytesOf(MIN_PART_BYTES, 1), bytesOf(999, 2)]);
    await replicated(world);
    world.backend('b2').tamper(await physicalOn(world, 'k', 'b2'), flip);
    world.backend('b1').tamper(await physicalOn(world, 'mp', 'b1'), flip);

    const run = await runScrub(world.services, { force: true, trigger: 'test' });
    expect(run).toEqual({ status: 'ok', more: false, checked: 4, mismatches: 2, dropped: 2, skipped: 0, errors: 0 });
    expect(await locations(world, 'k')).toEqual(['b1']);
    expect(await locations(world, 'mp')).toEqual(['b2']);
    expect(world.events.get('integrity_checks:scrub')).toBe(4);
    expect(world.events.get('integrity_errors:scrub')).toBe(2);
    // The bad bytes are gone and nothing waits in the cleanup queue.
    await expectConsistent(world);
    expect(await world.database.query('select * from cleanup_queue')).toEqual([]);

    await replicated(world);
    expect((await locations(world, 'k')).sort()).toEqual(['b1', 'b2']);
    const again = await runScrub(world.services, { force: true, trigger: 'test' });
    expect(again).toMatchObject({ status: 'ok', checked: 4, mismatches: 0 });
    world.backend('b1').down();
    expectSameBytes(await read(world, 'k'), bytes);
    world.backend('b1').up();
    await expectConsistent(world);
  });

  it('a sealed copy whose ciphertext was altered is corrupt too, wherever the altered chunk is', async () => {
    const key = Buffer.alloc(32, 3).toString('base64');
    const world = await domainServices({
      backends: ['b1', 'b2'],
      replicationFactor: 2,
      document: { encryption: { enabled: true, master_key: key, chunk_size: '16KiB' } },
    });
    const bytes = bytesOf(400_000, 6);
    await put(world, 'early', bytesOf(40_000, 7));
    await put(world, 'late', bytes);
    await replicated(world);
    world.backend('b1').tamper(await physicalOn(world, 'early', 'b1'), (b) => {
      const changed = b.slice();
      changed[100] = (changed[100] ?? 0) ^ 1;
      return changed;
    });
    // Past the chunks a read opens before answering: the failure comes mid-stream.
    world.backend('b2').tamper(await physicalOn(world, 'late', 'b2'), (b) => {
      const changed = b.slice();
      changed[b.byteLength - 100] = (changed[b.byteLength - 100] ?? 0) ^ 1;
      return changed;
    });
    const run = await runScrub(world.services, { force: true, trigger: 'test' });
    expect(run).toMatchObject({ status: 'ok', checked: 4, mismatches: 2, dropped: 2, skipped: 0 });
    expect(await locations(world, 'early')).toEqual(['b2']);
    expect(await locations(world, 'late')).toEqual(['b1']);
    await replicated(world);
    expectSameBytes(await read(world, 'late'), bytes);
    await expectConsistent(world);
  });

  it('keeps an object\'s only copy however bad, and counts it', async () => {
    const world = await domainServices({ backends: ['b1'] });
    await put(world, 'only', bytesOf(1000, 1));
    world.backend('b1').tamper(await physicalOn(world, 'only', 'b1'), flip);
    const run = await runScrub(world.services, { force: true, trigger: 'test' });
    expect(run).toMatchObject({ status: 'ok', checked: 1, mismatches: 1, dropped: 0 });
    expect(await locations(world, 'only')).toEqual(['b1']);
    expect(world.events.get('integrity_errors:scrub')).toBe(1);
    expect(world.logs.some((l) => l.level === 'error' && l.msg.includes('only copy'))).toBe(true);
    await expectConsistent(world);
  });

  it('skips a copy it cannot read (backend down, bytes gone) without a verdict', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2 });
    await put(world, 'k', bytesOf(1000, 1));
    await replicated(world);
    world.backend('b2').down();
    const run = await runScrub(world.services, { force: true, trigger: 'test' });
    expect(run).toMatchObject({ status: 'ok', checked: 1, mismatches: 0, dropped: 0, skipped: 1 });
    world.backend('b2').up();
    world.backend('b1').lose(await physicalOn(world, 'k', 'b1'));
    const lost = await runScrub(world.services, { force: true, trigger: 'test' });
    expect(lost).toMatchObject({ mismatches: 0, dropped: 0, skipped: 1 });
    expect((await locations(world, 'k')).sort()).toEqual(['b1', 'b2']);
  });

  it('walks every copy across passes by its cursor, and runs only when due', async () => {
    const world = await domainServices({ backends: ['b1'], document: { integrity: { scrub_interval: '1h', scrub_batch_size: 2 } } });
    for (const key of ['a', 'b', 'c']) await put(world, key, bytesOf(100, key.charCodeAt(0)));
    const first = await runScrub(world.services, { force: false, trigger: 'cron' });
    expect(first).toMatchObject({ status: 'ok', checked: 2, more: true });
    expect(await runScrub(world.services, { force: false, trigger: 'cron' })).toMatchObject({ status: 'skipped', reason: 'not due yet' });
    world.clock.advance(60 * 60_000);
    expect(await runScrub(world.services, { force: false, trigger: 'cron' })).toMatchObject({ status: 'ok', checked: 1, more: false });
    world.clock.advance(60 * 60_000);
    expect(await runScrub(world.services, { force: false, trigger: 'cron' })).toMatchObject({ status: 'ok', checked: 2, more: true });
    const off = await domainServices({ backends: ['b1'], after: world });
    expect(await runScrub(off.services, { force: false, trigger: 'cron' })).toMatchObject({ status: 'skipped' });
  });

  it('three passes at once: one runs, the others are skipped, and the accounting stays exact', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2 });
    await put(world, 'k', bytesOf(5000, 1));
    await replicated(world);
    world.backend('b1').tamper(await physicalOn(world, 'k', 'b1'), flip);
    const runs = await Promise.all([1, 2, 3].map(() => runScrub(world.services, { force: true, trigger: 'test' })));
    expect(runs.filter((r) => r.status === 'ok')).toHaveLength(1);
    expect(runs.filter((r) => r.status === 'skipped')).toHaveLength(2);
    expect(await locations(world, 'k')).toEqual(['b2']);
    await expectConsistent(world);
  });
});

describe('verify on read', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  const verifying = { integrity: { verify_on_read: true } };

  async function openWhole(world: DomainWorld, key: string): Promise<ReadableStream<Uint8Array>> {
    const opened = await openObject(world.services, BUCKET, key, new Headers());
    if (opened.notModified) throw new Error('unexpected 304');
    return opened.body;
  }

  it('a read to the end of a corrupt copy fails the transfer and drops the copy; the next read is good', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2, document: verifying });
    const bytes = bytesOf(300_000, 3);
    await put(world, 'k', bytes);
    await replicated(world);
    world.backend('b1').tamper(await physicalOn(world, 'k', 'b1'), flip);
    await expect(new Response(await openWhole(world, 'k')).arrayBuffer()).rejects.toThrow();
    await world.settle();
    expect(await locations(world, 'k')).toEqual(['b2']);
    expect(world.events.get('integrity_errors:read')).toBe(1);
    expectSameBytes(await read(world, 'k'), bytes);
    await world.settle();
    expect(world.events.get('integrity_checks:read')).toBe(2);
    await expectConsistent(world);
  });

  it('a client that stops halfway gives no verdict: the copy stays, even a corrupt one', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2, document: verifying });
    await put(world, 'k', bytesOf(600_000, 4));
    await replicated(world);
    world.backend('b1').tamper(await physicalOn(world, 'k', 'b1'), flip);
    const reader = (await openWhole(world, 'k')).getReader();
    await reader.read();
    await reader.cancel('client went away');
    await world.settle();
    expect((await locations(world, 'k')).sort()).toEqual(['b1', 'b2']);
    expect(world.events.get('integrity_checks:read')).toBeUndefined();
    await expectConsistent(world);
  });

  it('ranges and parts are not checked, and nothing is hashed while the setting is off', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2 });
    await put(world, 'k', bytesOf(1000, 5));
    await replicated(world);
    world.backend('b1').tamper(await physicalOn(world, 'k', 'b1'), flip);
    await read(world, 'k');
    await world.settle();
    expect(world.events.get('integrity_checks:read')).toBeUndefined();
    const on = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2, document: verifying, after: world });
    const ranged = await openObject(on.services, BUCKET, 'k', new Headers({ range: 'bytes=0-99' }));
    if (ranged.notModified) throw new Error('unexpected 304');
    await new Response(ranged.body).arrayBuffer();
    await on.settle();
    expect(on.events.get('integrity_checks:read')).toBeUndefined();
    expect((await locations(on, 'k')).sort()).toEqual(['b1', 'b2']);
  });
});
