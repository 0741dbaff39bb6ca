/**
 * What clients read of an object's parts, against the real Worker and radosgw: GetObject and HeadObject with
 * partNumber, and GetObjectAttributes, written from the AWS API reference pages of those operations.
 */
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectAttributesCommand,
  type GetObjectAttributesCommandInput,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, md5, randomBody, sha256 } from '../support/bytes.ts';
import { s3Failure, xmlError } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
const ALL = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ name: 'object-parts', backends: [{ name: 'rgw', kind: 'radosgw', quotaBytes: 200 * MiB }] });
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

/** The SDK at its defaults sends CRC32 checksums on PutObject and UploadPart. */
const s3 = () => stack.client(undefined, { maxAttempts: 1 });
/** A client that sends checksums only where S3 requires them (so objects and parts carry none). */
const plain = () => stack.client(undefined, { maxAttempts: 1, requestChecksumCalculation: 'WHEN_REQUIRED' });

const attributes = (Key: string, extra: Partial<GetObjectAttributesCommandInput> = {}) =>
  s3().send(new GetObjectAttributesCommand({ Bucket: stack.bucket, Key, ObjectAttributes: [...ALL], ...extra }));

/** Uploads the bodies as parts 1, 2, ... (or under `numbers`) and completes the upload. */
async function multipartObject(client: S3Client, key: string, bodies: Buffer[], numbers = bodies.map((_, i) => i + 1)) {
  const uploadId = (await client.send(new CreateMultipartUploadCommand({ Bucket: stack.bucket, Key: key }))).UploadId!;
  const uploaded = [];
  for (const [i, Body] of bodies.entries()) {
    uploaded.push(await client.send(new UploadPartCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, PartNumber: numbers[i], Body })));
  }
  const done = await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: stack.bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: uploaded.map((u, i) => ({ PartNumber: numbers[i], ETag: u.ETag })) },
    }),
  );
  return { done, uploaded };
}

describe('GetObjectAttributes', () => {
  it('a single-part object: ETag without quotes, its checksum, STANDARD, its size, Last-Modified; no ObjectParts', async () => {
    const body = randomBody(3000);
    const put = await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'attr/single.bin', Body: body }));
    expect(put.ChecksumCRC32).toBeTruthy();
    const got = await attributes('attr/single.bin');
    expect(got.ETag).toBe(md5(body));
    expect(got.Checksum?.ChecksumCRC32).toBe(put.ChecksumCRC32);
    expect(got.Checksum?.ChecksumType).toBe('FULL_OBJECT');
    expect([got.ObjectParts, got.StorageClass, got.ObjectSize]).toEqual([undefined, 'STANDARD', 3000]);
    const head = await s3().send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'attr/single.bin' }));
    expect(got.LastModified).toEqual(head.LastModified);
  });

  it('answers only the attributes asked for; Checksum only when the object has one', async () => {
    await plain().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'attr/plain.bin', Body: randomBody(10) }));
    const got = await attributes('attr/plain.bin');
    expect([got.Checksum, got.ObjectSize]).toEqual([undefined, 10]);
    const some = await attributes('attr/plain.bin', { ObjectAttributes: ['ObjectSize', 'StorageClass'] });
    expect([some.ETag, some.Checksum, some.ObjectParts, some.StorageClass, some.ObjectSize]).toEqual([undefined, undefined, undefined, 'STANDARD', 10]);
  });

  it('a multipart object whose parts carry checksums: ObjectParts pages with max-parts and part-number-marker', async () => {
    const bodies = [randomBody(5 * MiB), randomBody(5 * MiB + 1), randomBody(700)];
    const { done, uploaded } = await multipartObject(s3(), 'attr/parts.bin', bodies);
    expect(uploaded.every((u) => u.ChecksumCRC32)).toBe(true);
    const first = await attributes('attr/parts.bin', { MaxParts: 2 });
    expect(first.ETag).toBe(done.ETag!.replace(/"/g, ''));
    expect(first.ObjectSize).toBe(10 * MiB + 701);
    expect(first.ObjectParts).toMatchObject({ TotalPartsCount: 3, MaxParts: 2, IsTruncated: true, PartNumberMarker: '0', NextPartNumberMarker: '2' });
    expect(first.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumCRC32])).toEqual([
      [1, 5 * MiB, uploaded[0]!.ChecksumCRC32],
      [2, 5 * MiB + 1, uploaded[1]!.ChecksumCRC32],
    ]);
    const rest = await attributes('attr/parts.bin', { MaxParts: 2, PartNumberMarker: first.ObjectParts!.NextPartNumberMarker });
    expect(rest.ObjectParts).toMatchObject({ TotalPartsCount: 3, IsTruncated: false, PartNumberMarker: '2', NextPartNumberMarker: '3' });
    expect(rest.ObjectParts?.Parts?.map((p) => [p.PartNumber, p.Size, p.ChecksumCRC32])).toEqual([[3, 700, uploaded[2]!.ChecksumCRC32]]);
    const all = await attributes('attr/parts.bin');
    expect([all.ObjectParts?.MaxParts, all.ObjectParts?.IsTruncated, all.ObjectParts?.Parts?.length]).toEqual([1000, false, 3]);
  });

  it('a multipart object whose parts carry no checksums: ObjectParts has the parts count only', async () => {
    await multipartObject(plain(), 'attr/plain-parts.bin', [randomBody(5 * MiB), randomBody(100)]);
    const got = await attributes('attr/plain-parts.bin');
    expect(got.ObjectParts?.TotalPartsCount).toBe(2);
    expect(got.ObjectParts?.Parts).toBeUndefined();
    expect(got.Checksum).toBeUndefined();
  });

  it('refuses a missing, empty or unknown x-amz-object-attributes, and a missing key', async () => {
    await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'attr/errors.bin', Body: 'x' }));
    const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
    const url = `${stack.endpoint}/${stack.bucket}/attr/errors.bin?attributes`;
    expect(await xmlError(await aws.fetch(url))).toEqual({ status: 400, code: 'InvalidRequest' });
    expect(await xmlError(await aws.fetch(url, { headers: { 'x-amz-object-attributes': ' ' } }))).toEqual({ status: 400, code: 'InvalidRequest' });
    expect(await xmlError(await aws.fetch(url, { headers: { 'x-amz-object-attributes': 'ETag,Owner' } }))).toEqual({ status: 400, code: 'InvalidArgument' });
    expect(await s3Failure(attributes('attr/no-such-key'))).toEqual({ code: 'NoSuchKey', status: 404 });
  });
});

describe('reading by part number', () => {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html and API_HeadObject.html: partNumber
  // "effectively performs a 'ranged' GET request for the part specified"; x-amz-mp-parts-count is "only returned if
  // you specify partNumber in your request and the object was uploaded as a multipart upload".
  const get = (Key: string, PartNumber: number, extra: { Range?: string } = {}) => s3().send(new GetObjectCommand({ Bucket: stack.bucket, Key, PartNumber, ...extra }));
  const head = (Key: string, PartNumber: number) => s3().send(new HeadObjectCommand({ Bucket: stack.bucket, Key, PartNumber }));

  it('GetObject and HeadObject with partNumber answer the part as a ranged read, with the parts count', async () => {
    const key = 'part/by-part.bin';
    const bodies = [randomBody(5 * MiB), randomBody(5 * MiB + 3), randomBody(1000)];
    const { done } = await multipartObject(s3(), key, bodies);
    const total = bodies.reduce((n, b) => n + b.length, 0);
    let first = 0;
    for (const [i, body] of bodies.entries()) {
      const got = await get(key, i + 1);
      expect(got.$metadata.httpStatusCode).toBe(206);
      expect([got.PartsCount, got.ContentLength, got.ContentRange, got.ETag]).toEqual([3, body.length, `bytes ${first}-${first + body.length - 1}/${total}`, done.ETag]);
      expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
      const headed = await head(key, i + 1);
      expect(headed.$metadata.httpStatusCode).toBe(206);
      expect([headed.PartsCount, headed.ContentLength, headed.ContentRange]).toEqual([3, body.length, `bytes ${first}-${first + body.length - 1}/${total}`]);
      first += body.length;
    }
    expect(await s3Failure(get(key, 4))).toEqual({ code: 'InvalidPartNumber', status: 416 });
    expect((await s3Failure(head(key, 4))).status).toBe(416);
    // Without partNumber nothing changes: the whole object, no parts count.
    const whole = await s3().send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect([whole.$metadata.httpStatusCode, whole.PartsCount, whole.ContentLength]).toEqual([200, undefined, total]);
    await whole.Body?.transformToByteArray();
    // The parts go with the object.
    await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: 'now one part' }));
    expect(await s3Failure(get(key, 2))).toEqual({ code: 'InvalidPartNumber', status: 416 });
    await s3().send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect(await stack.query('select 1 from object_parts where key = $1', [key])).toEqual([]);
  });

  it('parts are counted in part-number order when the numbers have gaps', async () => {
    const key = 'part/by-part-gaps.bin';
    const bodies = [randomBody(5 * MiB), randomBody(2000)];
    await multipartObject(s3(), key, bodies, [2, 7]);
    const second = await get(key, 2);
    expect([second.PartsCount, second.ContentRange]).toEqual([2, `bytes ${5 * MiB}-${5 * MiB + 1999}/${5 * MiB + 2000}`]);
    expect(sha256(await bodyBytes(second.Body))).toBe(sha256(bodies[1]!));
    expect(await s3Failure(get(key, 3))).toEqual({ code: 'InvalidPartNumber', status: 416 });
  });

  it('an object that is not multipart is one part: part 1 is the whole object, other numbers are refused', async () => {
    const key = 'part/single.bin';
    const body = randomBody(1000);
    await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
    const got = await get(key, 1);
    expect([got.$metadata.httpStatusCode, got.PartsCount, got.ContentLength, got.ContentRange]).toEqual([206, undefined, 1000, 'bytes 0-999/1000']);
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
    expect((await head(key, 1)).ContentLength).toBe(1000);
    expect(await s3Failure(get(key, 2))).toEqual({ code: 'InvalidPartNumber', status: 416 });
    expect((await s3Failure(head(key, 2))).status).toBe(416);
  });

  it('partNumber with a Range header, or outside 1..10000, is refused', async () => {
    await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'part/single-range.bin', Body: randomBody(100) }));
    expect(await s3Failure(get('part/single-range.bin', 1, { Range: 'bytes=0-9' }))).toEqual({ code: 'InvalidRequest', status: 400 });
    for (const n of [0, 10001]) expect(await s3Failure(get('part/single-range.bin', n))).toEqual({ code: 'InvalidArgument', status: 400 });
    expect(await s3Failure(get('part/no-such-key', 1))).toEqual({ code: 'NoSuchKey', status: 404 });
  });
});
