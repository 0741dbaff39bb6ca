/**
 * Checksums on multipart uploads, written from the S3 user guide ("Checking object integrity": full object and
 * composite checksums) and the CreateMultipartUpload, UploadPart, CompleteMultipartUpload and ListParts pages.
 * The oracle for a full-object checksum is a single PutObject of the same bytes; for a composite one, the
 * algorithm over the parts' binary checksums, computed here.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  type ChecksumAlgorithm,
  type ChecksumType,
  CompleteMultipartUploadCommand,
  type CompleteMultipartUploadCommandInput,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, randomBody, sha256 } from '../support/bytes.ts';
import { s3Failure, xmlError } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ name: 'mp-checksums', backends: [{ name: 'rgw', kind: 'radosgw' }] });
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

const s3 = () => stack.client(undefined, { maxAttempts: 1 });
const Bucket = () => stack.bucket;

/** The SDK output's checksum for an algorithm (ChecksumCRC32, ...). */
function checksumOf(output: object, algorithm: ChecksumAlgorithm): string | undefined {
  const value = (output as Record<string, unknown>)[`Checksum${algorithm}`];
  return typeof value === 'string' ? value : undefined;
}

async function create(Key: string, ChecksumAlgorithm: ChecksumAlgorithm, ChecksumType?: ChecksumType) {
  return s3().send(new CreateMultipartUploadCommand({ Bucket: Bucket(), Key, ChecksumAlgorithm, ChecksumType }));
}

async function uploadParts(Key: string, UploadId: string, algorithm: ChecksumAlgorithm, bodies: Buffer[]): Promise<UploadPartCommandOutput[]> {
  const out = [];
  for (const [i, Body] of bodies.entries()) {
    out.push(await s3().send(new UploadPartCommand({ Bucket: Bucket(), Key, UploadId, PartNumber: i + 1, Body, ChecksumAlgorithm: algorithm })));
  }
  return out;
}

function completeInput(Key: string, UploadId: string, algorithm: ChecksumAlgorithm, parts: UploadPartCommandOutput[]): CompleteMultipartUploadCommandInput {
  return {
    Bucket: Bucket(),
    Key,
    UploadId,
    MultipartUpload: { Parts: parts.map((p, i) => ({ PartNumber: i + 1, ETag: p.ETag, [`Checksum${algorithm}`]: checksumOf(p, algorithm) })) },
  };
}

/** The checksum a single PutObject of these bytes gets: the full-object value. */
async function wholeObjectChecksum(algorithm: ChecksumAlgorithm, body: Buffer): Promise<string | undefined> {
  const put = await s3().send(new PutObjectCommand({ Bucket: Bucket(), Key: `oracle/${algorithm}`, Body: body, ChecksumAlgorithm: algorithm }));
  return checksumOf(put, algorithm);
}

function composite(hash: 'sha256' | 'sha1', partChecksums: string[]): string {
  const digest = createHash(hash);
  for (const value of partChecksums) digest.update(Buffer.from(value, 'base64'));
  return `${digest.digest('base64')}-${partChecksums.length}`;
}

describe('multipart checksums', () => {
  const bodies = [randomBody(5 * MiB), randomBody(MiB + 17)];
  const whole = Buffer.concat(bodies);

  for (const [algorithm, type] of [
    ['CRC32', 'FULL_OBJECT'],
    ['CRC32C', 'FULL_OBJECT'],
    ['CRC64NVME', undefined],
  ] as const) {
    it(`${algorithm} ${type ?? '(default)'}: the object's checksum is the CRC of its whole bytes, returned and verified on read`, async () => {
      const key = `full/${algorithm}`;
      const created = await create(key, algorithm, type);
      expect(created.ChecksumAlgorithm).toBe(algorithm);
      expect(created.ChecksumType).toBe('FULL_OBJECT');
      const parts = await uploadParts(key, created.UploadId!, algorithm, bodies);
      const done = await s3().send(new CompleteMultipartUploadCommand(completeInput(key, created.UploadId!, algorithm, parts)));
      const expected = await wholeObjectChecksum(algorithm, whole);
      expect(checksumOf(done, algorithm)).toBe(expected);
      expect(done.ChecksumType).toBe('FULL_OBJECT');
      // The SDK checks a full-object checksum against the bytes it reads.
      const got = await s3().send(new GetObjectCommand({ Bucket: Bucket(), Key: key, ChecksumMode: 'ENABLED' }));
      expect(checksumOf(got, algorithm)).toBe(expected);
      expect(got.ChecksumType).toBe('FULL_OBJECT');
      expect(sha256(await bodyBytes(got.Body))).toBe(sha256(whole));
    });
  }

  for (const [algorithm, hash] of [
    ['SHA256', 'sha256'],
    ['SHA1', 'sha1'],
  ] as const) {
    it(`${algorithm} (composite): the checksum of the parts' checksums with -N, on complete, GET, HEAD and GetObjectAttributes`, async () => {
      const key = `composite/${algorithm}`;
      const created = await create(key, algorithm);
      expect([created.ChecksumAlgorithm, created.ChecksumType]).toEqual([algorithm, 'COMPOSITE']);
      const parts = await uploadParts(key, created.UploadId!, algorithm, bodies);
      const partValues = parts.map((p) => checksumOf(p, algorithm) ?? '');
      expect(partValues[0]).toBe(createHash(hash).update(bodies[0]!).digest('base64'));
      const listed = await s3().send(new ListPartsCommand({ Bucket: Bucket(), Key: key, UploadId: created.UploadId! }));
      expect([listed.ChecksumAlgorithm, listed.ChecksumType]).toEqual([algorithm, 'COMPOSITE']);
      expect(listed.Parts?.map((p) => checksumOf(p, algorithm))).toEqual(partValues);
      const done = await s3().send(new CompleteMultipartUploadCommand(completeInput(key, created.UploadId!, algorithm, parts)));
      const expected = composite(hash, partValues);
      expect([checksumOf(done, algorithm), done.ChecksumType]).toEqual([expected, 'COMPOSITE']);
      const got = await s3().send(new GetObjectCommand({ Bucket: Bucket(), Key: key, ChecksumMode: 'ENABLED' }));
      expect([checksumOf(got, algorithm), got.ChecksumType]).toEqual([expected, 'COMPOSITE']);
      expect(sha256(await bodyBytes(got.Body))).toBe(sha256(whole));
      const head = await s3().send(new HeadObjectCommand({ Bucket: Bucket(), Key: key, ChecksumMode: 'ENABLED' }));
      expect([checksumOf(head, algorithm), head.ChecksumType]).toEqual([expected, 'COMPOSITE']);
      const attributes = await s3().send(new GetObjectAttributesCommand({ Bucket: Bucket(), Key: key, ObjectAttributes: ['Checksum', 'ObjectParts'] }));
      expect(attributes.Checksum && [checksumOf(attributes.Checksum, algorithm), attributes.Checksum.ChecksumType]).toEqual([expected, 'COMPOSITE']);
      expect(attributes.ObjectParts?.Parts?.map((p) => checksumOf(p, algorithm))).toEqual(partValues);
      // A completion retried after it succeeded answers the same checksum.
      const again = await s3().send(new CompleteMultipartUploadCommand(completeInput(key, created.UploadId!, algorithm, parts)));
      expect(checksumOf(again, algorithm)).toBe(expected);
    });
  }

  it('CRC32 defaults to COMPOSITE; a part sent without a checksum gets one computed; lib-storage uploads end to end', async () => {
    const key = 'composite/crc32';
    const created = await create(key, 'CRC32');
    expect(created.ChecksumType).toBe('COMPOSITE');
    // A part sent by hand with no checksum at all: the Worker computes the upload's algorithm over it.
    const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
    const first = await aws.fetch(`${stack.endpoint}/${Bucket()}/${key}?partNumber=1&uploadId=${created.UploadId}`, { method: 'PUT', body: new Uint8Array(bodies[0]!) });
    expect(first.status).toBe(200);
    const computed = first.headers.get('x-amz-checksum-crc32');
    expect(computed).toBe((await s3().send(new PutObjectCommand({ Bucket: Bucket(), Key: 'oracle/part', Body: bodies[0], ChecksumAlgorithm: 'CRC32' }))).ChecksumCRC32);
    const part2 = await s3().send(new UploadPartCommand({ Bucket: Bucket(), Key: key, UploadId: created.UploadId!, PartNumber: 2, Body: bodies[1], ChecksumAlgorithm: 'CRC32' }));
    const listed = await s3().send(new ListPartsCommand({ Bucket: Bucket(), Key: key, UploadId: created.UploadId! }));
    expect(listed.Parts?.map((p) => p.ChecksumCRC32)).toEqual([computed, part2.ChecksumCRC32]);
    const done = await s3().send(
      new CompleteMultipartUploadCommand({
        Bucket: Bucket(),
        Key: key,
        UploadId: created.UploadId!,
        MultipartUpload: { Parts: listed.Parts!.map((p) => ({ PartNumber: p.PartNumber, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 })) },
      }),
    );
    const crcOfCrcs = Buffer.alloc(4);
    crcOfCrcs.writeUInt32BE(crc32(Buffer.concat([computed!, part2.ChecksumCRC32!].map((v) => Buffer.from(v, 'base64')))));
    expect(done.ChecksumCRC32).toBe(`${crcOfCrcs.toString('base64')}-2`);

    const body = randomBody(12 * MiB + 5);
    const upload = new Upload({ client: stack.client(), params: { Bucket: Bucket(), Key: 'lib-storage/crc32c', Body: body, ChecksumAlgorithm: 'CRC32C' }, partSize: 5 * MiB });
    await upload.done();
    const got = await stack.client().send(new GetObjectCommand({ Bucket: Bucket(), Key: 'lib-storage/crc32c', ChecksumMode: 'ENABLED' }));
    expect(got.ChecksumCRC32C).toMatch(/-3$/);
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
  });

  it('refuses what S3 refuses: a bad algorithm or type, a part of another algorithm, missing or wrong part checksums, a wrong object checksum', async () => {
    const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
    const createRaw = (headers: Record<string, string>) => aws.fetch(`${stack.endpoint}/${Bucket()}/bad/create?uploads`, { method: 'POST', headers });
    const invalidRequest = { status: 400, code: 'InvalidRequest' };
    expect(await xmlError(await createRaw({ 'x-amz-checksum-algorithm': 'MD5' }))).toEqual(invalidRequest);
    expect(await xmlError(await createRaw({ 'x-amz-checksum-algorithm': 'SHA256', 'x-amz-checksum-type': 'FULL_OBJECT' }))).toEqual(invalidRequest);
    expect(await xmlError(await createRaw({ 'x-amz-checksum-algorithm': 'CRC64NVME', 'x-amz-checksum-type': 'COMPOSITE' }))).toEqual(invalidRequest);
    expect(await xmlError(await createRaw({ 'x-amz-checksum-type': 'COMPOSITE' }))).toEqual(invalidRequest);
    expect(await xmlError(await createRaw({ 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'BOTH' }))).toEqual(invalidRequest);

    const key = 'bad/parts';
    const created = await create(key, 'SHA256');
    const upload = { Bucket: Bucket(), Key: key, UploadId: created.UploadId! };
    expect(await s3Failure(s3().send(new UploadPartCommand({ ...upload, PartNumber: 1, Body: bodies[0], ChecksumAlgorithm: 'CRC32' })))).toEqual({
      code: 'InvalidRequest',
      status: 400,
    });
    const parts = await uploadParts(key, created.UploadId!, 'SHA256', bodies);
    const input = completeInput(key, created.UploadId!, 'SHA256', parts);
    const withParts = (map: (p: { PartNumber?: number; ETag?: string; ChecksumSHA256?: string }) => object) => ({
      ...input,
      MultipartUpload: { Parts: input.MultipartUpload!.Parts!.map(map) },
    });
    expect(await s3Failure(s3().send(new CompleteMultipartUploadCommand(withParts(({ PartNumber, ETag }) => ({ PartNumber, ETag })))))).toEqual({
      code: 'InvalidRequest',
      status: 400,
    });
    expect(await s3Failure(s3().send(new CompleteMultipartUploadCommand(withParts((p) => ({ ...p, ChecksumSHA256: Buffer.alloc(32).toString('base64') })))))).toEqual({
      code: 'InvalidPart',
      status: 400,
    });
    expect(await s3Failure(s3().send(new CompleteMultipartUploadCommand({ ...input, ChecksumType: 'FULL_OBJECT' })))).toEqual({ code: 'InvalidRequest', status: 400 });
    expect(await s3Failure(s3().send(new CompleteMultipartUploadCommand({ ...input, ChecksumSHA256: `${Buffer.alloc(32).toString('base64')}-2` })))).toEqual({
      code: 'BadDigest',
      status: 400,
    });
    // Nothing was recorded by the refusals; the right request still completes.
    expect(await stack.query("select 1 from objects where key = 'bad/parts'")).toEqual([]);
    const done = await s3().send(new CompleteMultipartUploadCommand({ ...input, ChecksumSHA256: composite('sha256', parts.map((p) => p.ChecksumSHA256 ?? '')) }));
    expect(done.ChecksumType).toBe('COMPOSITE');
  });
});
