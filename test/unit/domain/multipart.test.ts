/**
 * Multipart uploads in the domain: parts stream to the backend chosen at create, count as in flight against its
 * room, become the object's bytes at complete (with S3's multipart ETag), and are freed by an abort.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { abortUpload, completeUpload, createUpload, MIN_PART_BYTES, requireUpload, uploadPart } from '../../../src/objects/multipart.ts';
import { backendSpace } from '../../../src/store/quotas.ts';
import { expectConsistent, expectSameBytes, locations, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bodyOf, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';
import { md5Hex, multipartEtag } from '../support/memory-backend.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const target = (key: string) => ({ bucket: BUCKET, key, contentType: 'application/octet-stream', metadata: {}, headers: {} });

async function sendPart(world: DomainWorld, uploadId: string, key: string, partNumber: number, bytes: Uint8Array) {
  const upload = await requireUpload(world.services, uploadId, BUCKET, key);
  return uploadPart(world.services, upload, { partNumber, source: bodyOf(bytes), size: bytes.byteLength, expect: {} });
}

async function inflight(world: DomainWorld, backend: string): Promise<number> {
  const [space] = await backendSpace(world.db, [backend]);
  return space?.inflightBytes ?? Number.NaN;
}

describe('multipart uploads', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('create, upload and complete: the object is the parts in order, under the multipart ETag, with exact accounting', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 64 * 1024 * 1024 }, 'b2'] });
    const parts = [bytesOf(MIN_PART_BYTES, 1), bytesOf(1000, 2)];
    const uploadId = await createUpload(world.services, target('big.bin'));
    expect(world.backend('b1').uploads.size).toBe(1);

    const sent = [];
    for (const [i, bytes] of parts.entries()) sent.push(await sendPart(world, uploadId, 'big.bin', i + 1, bytes));
    expect(sent.map((p) => p.etag)).toEqual([`"${await md5Hex(parts[0] ?? new Uint8Array())}"`, `"${await md5Hex(parts[1] ?? new Uint8Array())}"`]);
    // Parts in flight hold their room on the upload's backend before the object exists.
    expect(await inflight(world, 'b1')).toBe(MIN_PART_BYTES + 1000);

    const upload = await requireUpload(world.services, uploadId, BUCKET, 'big.bin');
    const done = await completeUpload(world.services, upload, sent.map((p, i) => ({ partNumber: i + 1, etag: p.etag })), undefined);
    expect(done.etag).toBe(await multipartEtag(sent.map((p) => p.etag)));
    expect(done.etag).toMatch(/^"[0-9a-f]{32}-2"$/);

    expect(await locations(world, 'big.bin')).toEqual(['b1']);
    const whole = new Uint8Array(MIN_PART_BYTES + 1000);
    whole.set(parts[0] ?? new Uint8Array(), 0);
    whole.set(parts[1] ?? new Uint8Array(), MIN_PART_BYTES);
    expectSameBytes(await read(world, 'big.bin'), whole);
    expect(world.backend('b1').uploads.size).toBe(0);
    expect(await inflight(world, 'b1')).toBe(0);
    expect(await world.accounting()).toMatchObject([{ backend: 'b1', bytesUsed: MIN_PART_BYTES + 1000 }, { backend: 'b2', bytesUsed: 0 }]);
    await expectConsistent(world);
  });

  it('a part the upload\'s backend has no room for is refused before its body is read', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1500 }] });
    const uploadId = await createUpload(world.services, target('k'));
    await sendPart(world, uploadId, 'k', 1, bytesOf(1000));
    await expect(sendPart(world, uploadId, 'k', 2, bytesOf(1000, 2))).rejects.toMatchObject({ reason: 'no-room' });
    expect(world.backend('b1').calls.uploadPart).toBe(1);
    expect(await inflight(world, 'b1')).toBe(1000);
  });

  it('abort frees the parts\' room and the backend\'s upload; a failed backend abort is queued, still freeing the record', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 10_000 }] });
    const first = await createUpload(world.services, target('a'));
    await sendPart(world, first, 'a', 1, bytesOf(2000));
    await abortUpload(world.services, await requireUpload(world.services, first, BUCKET, 'a'));
    expect(world.backend('b1').uploads.size).toBe(0);
    expect(await inflight(world, 'b1')).toBe(0);
    await expect(requireUpload(world.services, first, BUCKET, 'a')).rejects.toMatchObject({ reason: 'no-such-upload' });

    const second = await createUpload(world.services, target('b'));
    await sendPart(world, second, 'b', 1, bytesOf(3000));
    world.backend('b1').failNext('abortMultipartUpload');
    await abortUpload(world.services, await requireUpload(world.services, second, BUCKET, 'b'));
    await expect(requireUpload(world.services, second, BUCKET, 'b')).rejects.toMatchObject({ reason: 'no-such-upload' });
    // Until the queued abort succeeds, the parts' bytes stay reserved as orphaned, and accounted for as queued.
    expect(await world.accounting()).toMatchObject([{ backend: 'b1', bytesUsed: 0, orphanBytes: 3000, queuedBytes: 3000 }]);
    expect(await world.accountingDrift()).toEqual([]);
  });

  it('complete refuses parts out of order, unknown ETags and small parts before asking the backend', async () => {
    const world = await domainServices({ backends: ['b1'] });
    const uploadId = await createUpload(world.services, target('k'));
    const one = await sendPart(world, uploadId, 'k', 1, bytesOf(1000));
    const two = await sendPart(world, uploadId, 'k', 2, bytesOf(1000, 2));
    const upload = await requireUpload(world.services, uploadId, BUCKET, 'k');
    await expect(completeUpload(world.services, upload, [{ partNumber: 2, etag: two.etag }, { partNumber: 1, etag: one.etag }], undefined)).rejects.toMatchObject({ reason: 'parts-out-of-order' });
    await expect(completeUpload(world.services, upload, [{ partNumber: 1, etag: '"0123"' }], undefined)).rejects.toMatchObject({ reason: 'unknown-part' });
    await expect(completeUpload(world.services, upload, [{ partNumber: 1, etag: one.etag }, { partNumber: 2, etag: two.etag }], undefined)).rejects.toMatchObject({ reason: 'part-too-small' });
    expect(world.backend('b1').calls.completeMultipartUpload).toBe(0);
    // A single small part is a whole object.
    await completeUpload(world.services, upload, [{ partNumber: 1, etag: one.etag }], undefined);
    expectSameBytes(await read(world, 'k'), bytesOf(1000));
    expect(await world.accountingDrift()).toEqual([]);
  });
});
