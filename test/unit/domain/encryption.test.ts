/**
 * At-rest encryption in the domain: backends hold only ciphertext, clients see their bytes, sizes and ETags,
 * quotas count the stored bytes; ranges, multipart uploads, copies, replicas and the drain work on sealed copies;
 * a key that is not configured gives a 503 naming it.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runReplication } from '../../../src/jobs/replication.ts';
import { copyObject } from '../../../src/objects/copy-object.ts';
import { MIN_PART_BYTES, completeUpload, createUpload, requireUpload, uploadPart } from '../../../src/objects/multipart.ts';
import { lookupObject, openObject } from '../../../src/objects/read-object.ts';
import { segmentStoredSize } from '../../../src/crypto/envelope-format.ts';
import { findObject } from '../../../src/store/objects.ts';
import { expectConsistent, expectSameBytes, locations, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainOptions, type DomainWorld, bodyOf, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';
import { md5Hex, multipartEtag } from '../support/memory-backend.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const KEY_A = btoa(String.fromCharCode(...bytesOf(32, 7)));
const KEY_B = btoa(String.fromCharCode(...bytesOf(32, 8)));
const CHUNK = 4096;

function sealed(options: Omit<DomainOptions, 'document'> & { masterKey?: string; previousKeys?: string[]; enabled?: boolean }): Promise<DomainWorld> {
  const { masterKey = KEY_A, previousKeys = [], enabled = true, ...rest } = options;
  return domainServices({ ...rest, document: { encryption: { enabled, master_key: masterKey, previous_keys: previousKeys, chunk_size: CHUNK } } });
}

/** The stored bytes of the key's only copy, read straight from its backend. */
async function storedBytes(world: DomainWorld, key: string): Promise<Uint8Array> {
  const object = await findObject(world.db, BUCKET, key);
  const copy = object?.locations[0];
  if (!copy) throw new Error(`no copy of ${key}`);
  const bytes = world.backend(copy.backendName).objects.get(copy.physicalKey);
  if (!bytes) throw new Error(`copy of ${key} missing on ${copy.backendName}`);
  return bytes;
}

async function readRange(world: DomainWorld, key: string, range: string): Promise<Uint8Array> {
  const opened = await openObject(world.services, BUCKET, key, new Headers({ range }));
  if (opened.notModified) throw new Error('unexpected 304');
  return new Uint8Array(await new Response(opened.body).arrayBuffer());
}

/** Whether `needle` (16 bytes of it) appears anywhere in `hay`. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  const probe = needle.subarray(0, 16);
  outer: for (let i = 0; i + probe.byteLength <= hay.byteLength; i++) {
    for (let j = 0; j < probe.byteLength; j++) if (hay[i + j] !== probe[j]) continue outer;
    return true;
  }
  return false;
}

describe('encryption at rest', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('stores ciphertext, answers the client\'s bytes, size and ETag, and counts the stored bytes', async () => {
    const world = await sealed({ backends: ['b1'] });
    const bytes = bytesOf(10_000);
    const { etag } = await put(world, 'secret.txt', bytes);
    expect(etag).toBe(`"${await md5Hex(bytes)}"`);
    const stored = await storedBytes(world, 'secret.txt');
    expect(stored.byteLength).toBe(segmentStoredSize(10_000, CHUNK));
    expect(new TextDecoder().decode(stored.subarray(0, 4))).toBe('S3OE');
    expect(contains(stored, bytes)).toBe(false);
    const object = await lookupObject(world.services, BUCKET, 'secret.txt');
    expect(object.size).toBe(10_000);
    expect(object.locations[0]?.encryption).toMatchObject({ chunkSize: CHUNK, keyId: expect.stringMatching(/^k-[0-9a-f]{16}$/) });
    expectSameBytes(await read(world, 'secret.txt'), bytes);
    expect(await world.accounting()).toMatchObject([{ backend: 'b1', bytesUsed: stored.byteLength }]);
    await expectConsistent(world);
    // An empty object is sealed too (a header and one empty sealed chunk).
    await put(world, 'empty', new Uint8Array(0));
    expect((await storedBytes(world, 'empty')).byteLength).toBe(segmentStoredSize(0, CHUNK));
    expect(await read(world, 'empty')).toEqual(new Uint8Array(0));
  });

  it('serves ranges from only the chunks they touch', async () => {
    const world = await sealed({ backends: ['b1'] });
    const bytes = bytesOf(5 * CHUNK + 123, 3);
    await put(world, 'r', bytes);
    for (const [start, end] of [[0, 0], [4095, 4096], [CHUNK * 2 + 5, CHUNK * 4], [bytes.byteLength - 10, bytes.byteLength - 1]] as const) {
      expectSameBytes(await readRange(world, 'r', `bytes=${start}-${end}`), bytes.slice(start, end + 1));
    }
    expectSameBytes(await readRange(world, 'r', 'bytes=-100'), bytes.slice(-100));
  });

  it('seals multipart uploads part by part; the object reads whole, by range across parts, and keeps the multipart ETag', async () => {
    const world = await sealed({ backends: ['b1'] });
    const parts = [bytesOf(MIN_PART_BYTES, 1), bytesOf(MIN_PART_BYTES + 17, 2), bytesOf(999, 3)];
    const uploadId = await createUpload(world.services, { bucket: BUCKET, key: 'mp', contentType: 'application/octet-stream', metadata: {}, headers: {} });
    const upload = await requireUpload(world.services, uploadId, BUCKET, 'mp');
    const sent = [];
    // Part 2 is sent twice: the second upload of it (a fresh nonce) is the one kept.
    await uploadPart(world.services, upload, { partNumber: 2, source: bodyOf(bytesOf(MIN_PART_BYTES, 9)), size: MIN_PART_BYTES, expect: {} });
    for (const [i, bytes] of parts.entries()) sent.push(await uploadPart(world.services, upload, { partNumber: i + 1, source: bodyOf(bytes), size: bytes.byteLength, expect: {} }));
    const done = await completeUpload(world.services, upload, sent.map((p, i) => ({ partNumber: i + 1, etag: p.etag })), undefined);
    expect(done.etag).toBe(await multipartEtag(sent.map((p) => p.etag)));
    const whole = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      whole.set(p, at);
      at += p.byteLength;
    }
    const stored = await storedBytes(world, 'mp');
    expect(stored.byteLength).toBe(parts.reduce((n, p) => n + segmentStoredSize(p.byteLength, CHUNK), 0));
    expect(contains(stored, parts[1]!)).toBe(false);
    expectSameBytes(await read(world, 'mp'), whole);
    const start = MIN_PART_BYTES - 100;
    const end = 2 * MIN_PART_BYTES + 100;
    expectSameBytes(await readRange(world, 'mp', `bytes=${start}-${end}`), whole.slice(start, end + 1));
    await expectConsistent(world);
  });

  it('copies by re-sealing under the new key\'s place, and replicas and drains move ciphertext as it is', async () => {
    const world = await sealed({ backends: ['b1', 'b2', 'b3'], replicationFactor: 2 });
    const bytes = bytesOf(20_000, 4);
    await put(world, 'src', bytes);
    const source = await lookupObject(world.services, BUCKET, 'src');
    await copyObject(world.services, source, { bucket: BUCKET, key: 'dst', contentType: 'text/plain', metadata: {}, headers: {} });
    expectSameBytes(await read(world, 'dst'), bytes);
    expect(world.backend('b1').calls.copyObject).toBe(0);

    await runReplication(world.services, { force: true, trigger: 'test' });
    expect((await locations(world, 'src')).length).toBe(2);
    const copies = (await findObject(world.db, BUCKET, 'src'))!.locations;
    const [first, second] = copies.map((c) => world.backend(c.backendName).objects.get(c.physicalKey));
    expect(second).toEqual(first);
    expect(copies[1]?.encryption).toEqual(copies[0]?.encryption);

    const drained = await world.drain('b1');
    expect(drained.outcome.kind).toBe('done');
    expectSameBytes(await read(world, 'src'), bytes);
    expectSameBytes(await read(world, 'dst'), bytes);
    await expectConsistent(world);
  });

  it('reads old copies after the key moves to previous_keys; without it, a 503 that names the key', async () => {
    const before = await sealed({ backends: ['b1'] });
    await put(before, 'old', bytesOf(5000, 5));
    const keyId = (await findObject(before.db, BUCKET, 'old'))!.locations[0]!.encryption!.keyId;

    // The same database and backend under a new configuration: the new key primary, the old one previous.
    const rotated = await sealed({ backends: ['b1'], masterKey: KEY_B, previousKeys: [KEY_A], after: before });
    expectSameBytes(await read(rotated, 'old'), bytesOf(5000, 5));

    const lost = await sealed({ backends: ['b1'], masterKey: KEY_B, after: before });
    await expect(read(lost, 'old')).rejects.toMatchObject({ reason: 'unavailable', message: expect.stringContaining(keyId) });
    expect(lost.events.get('encryption_unknown_key_id')).toBe(1);
    expect(lost.logs.some((l) => l.msg === 'encryption key not configured' && l.fields.key_id === keyId)).toBe(true);
  });

  it('a copy whose first chunk was tampered with fails over to another copy; a later chunk or a cut ends the body short', async () => {
    const world = await sealed({ backends: ['b1', 'b2'], replicationFactor: 2 });
    // Seven chunks: a read opens the first four before answering, the rest as the body streams.
    const bytes = bytesOf(6 * CHUNK + 100, 13);
    await put(world, 'k', bytes);
    await runReplication(world.services, { force: true, trigger: 'test' });
    const [first, second] = (await findObject(world.db, BUCKET, 'k'))!.locations;
    const unit = CHUNK + 16;
    world.backend(first!.backendName).tamper(first!.physicalKey, (b) => {
      b[32 + 10] = b[32 + 10]! ^ 0x40;
      return b;
    });
    expectSameBytes(await read(world, 'k'), bytes);
    expect(world.logs.some((l) => l.msg === 'stored copy failed to decrypt' && l.fields.problem === 'tampered' && l.fields.backend === first!.backendName)).toBe(true);
    expect(world.events.get('encryption_errors:decrypt/tampered')).toBe(1);

    // Spoiled after the first four chunks (cut at a chunk boundary, chunks swapped): the body starts, then stops; the
    // client never gets wrong bytes.
    world.backend(first!.backendName).tamper(first!.physicalKey, (b) => {
      b[32 + 10] = b[32 + 10]! ^ 0x40;
      return b.subarray(0, 32 + 5 * unit);
    });
    await expect(read(world, 'k')).rejects.toMatchObject({ name: 'CiphertextError', problem: 'truncated' });
    expect(world.events.get('encryption_errors:decrypt/truncated')).toBe(1);
    world.backend(first!.backendName).lose(first!.physicalKey);
    world.backend(second!.backendName).tamper(second!.physicalKey, (b) => {
      const swapped = b.slice();
      swapped.set(b.subarray(32 + 4 * unit, 32 + 5 * unit), 32 + 5 * unit);
      swapped.set(b.subarray(32 + 5 * unit, 32 + 6 * unit), 32 + 4 * unit);
      return swapped;
    });
    await expect(read(world, 'k')).rejects.toMatchObject({ name: 'CiphertextError', problem: 'tampered' });
    expect(world.events.get('encryption_errors:decrypt/tampered')).toBe(2);
  });

  it('conditional reads and degraded reads (the database away) work on sealed copies, multipart ones included', async () => {
    const world = await sealed({ backends: ['b1'] });
    const bytes = bytesOf(20_000, 14);
    const { etag } = await put(world, 'cond', bytes);
    const notModified = await openObject(world.services, BUCKET, 'cond', new Headers({ 'if-none-match': etag }));
    expect(notModified.notModified).toBe(true);
    await expect(openObject(world.services, BUCKET, 'cond', new Headers({ 'if-match': '"0123"' }))).rejects.toMatchObject({ reason: 'precondition-failed' });
    expectSameBytes(await readRange(world, 'cond', 'bytes=100-199'), bytes.slice(100, 200));

    const parts = [bytesOf(MIN_PART_BYTES, 15), bytesOf(3000, 16)];
    const uploadId = await createUpload(world.services, { bucket: BUCKET, key: 'mp', contentType: 'application/octet-stream', metadata: {}, headers: {} });
    const upload = await requireUpload(world.services, uploadId, BUCKET, 'mp');
    const sent = [];
    for (const [i, part] of parts.entries()) sent.push(await uploadPart(world.services, upload, { partNumber: i + 1, source: bodyOf(part), size: part.byteLength, expect: {} }));
    await completeUpload(world.services, upload, sent.map((p, i) => ({ partNumber: i + 1, etag: p.etag })), undefined);
    // Read once while the database answers: the record (with the parts' segments) is remembered.
    await read(world, 'mp');
    await read(world, 'cond');
    const away = { ...world, services: { ...world.services, db: () => { throw new Error('connect ECONNREFUSED 127.0.0.1:5432'); } } };
    expectSameBytes(await read(away, 'cond'), bytes);
    const whole = await read(away, 'mp');
    expect(whole.byteLength).toBe(MIN_PART_BYTES + 3000);
    expectSameBytes(whole.subarray(MIN_PART_BYTES), parts[1]!);
    expect(world.logs.some((l) => l.msg.startsWith('degraded read'))).toBe(true);
  });

  it('with encryption off, new copies are stored as is and sealed ones still read', async () => {
    const on = await sealed({ backends: ['b1'] });
    await put(on, 'sealed', bytesOf(3000, 6));
    const off = await sealed({ backends: ['b1'], enabled: false, after: on });
    await put(off, 'plain', bytesOf(3000, 7));
    expectSameBytes(await storedBytes(off, 'plain'), bytesOf(3000, 7));
    expectSameBytes(await read(off, 'sealed'), bytesOf(3000, 6));
    await expectConsistent(off);
  });
});
