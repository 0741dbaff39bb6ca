/** aws-chunked uploads and additional checksums, as current SDKs send them by default. */
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAwsChunked, signingKey } from '../support/aws-chunked-encoder.ts';
import { bodyBytes, randomBody, sha256 } from '../support/bytes.ts';
import { xmlError } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ name: 'chunked', backends: [{ name: 'rgw', kind: 'radosgw' }] });
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

/** Signs a PUT whose body is aws-chunked in `mode`, and sends `body` (already framed) with it. */
async function chunkedPut(key: string, mode: string, decodedLength: number, frame: (seed: { key: ArrayBuffer; amzDate: string; scope: string; seedSignature: string }) => Promise<Uint8Array>, extra: Record<string, string> = {}) {
  const creds = stack.credentials[0]!;
  const aws = new AwsClient({ ...creds, service: 's3', region: 'us-east-1', retries: 0 });
  const url = `${stack.endpoint}/${stack.bucket}/${key}`;
  const signed = await aws.sign(url, {
    method: 'PUT',
    headers: { 'x-amz-content-sha256': mode, 'content-encoding': 'aws-chunked', 'x-amz-decoded-content-length': String(decodedLength), ...extra },
  });
  const amzDate = signed.headers.get('x-amz-date')!;
  const seedSignature = /Signature=([0-9a-f]{64})/.exec(signed.headers.get('authorization')!)![1]!;
  const date = amzDate.slice(0, 8);
  const body = await frame({ key: await signingKey(creds.secretAccessKey, date, 'us-east-1'), amzDate, scope: `${date}/us-east-1/s3/aws4_request`, seedSignature });
  return fetch(url, { method: 'PUT', headers: signed.headers, body: new Uint8Array(body) });
}

async function stored(key: string): Promise<boolean> {
  return (await stack.query('select 1 from objects where key = $1', [key])).length > 0;
}

describe('uploads with the SDK defaults', () => {
  it('a stream body goes up as aws-chunked with a CRC32 trailer, and comes back byte for byte with its checksum', async () => {
    const s3 = stack.client();
    const body = randomBody(3 * 1024 * 1024 + 17);
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'stream.bin', Body: Readable.from([body.subarray(0, 1000), body.subarray(1000)]), ContentLength: body.length }));
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'stream.bin', ChecksumMode: 'ENABLED' }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
    expect(got.ChecksumCRC32).toMatch(/^[A-Za-z0-9+/]{6}==$/);
    const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'stream.bin' }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ContentEncoding).toBeUndefined();
  });

  it('a buffer body with each checksum algorithm is verified and stored', async () => {
    const s3 = stack.client();
    for (const algorithm of ['CRC32', 'CRC32C', 'SHA1', 'SHA256', 'CRC64NVME'] as const) {
      const body = randomBody(100_000);
      const put = await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `sum-${algorithm}`, Body: body, ChecksumAlgorithm: algorithm }));
      const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: `sum-${algorithm}`, ChecksumMode: 'ENABLED' }));
      expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
      const field = `Checksum${algorithm}` as const;
      expect(got[field]).toBe(put[field]);
      expect(got[field]).toBeTruthy();
    }
  });
});

describe('aws-chunked in all its forms', () => {
  const data = randomBody(300_000);

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk signature verified', async () => {
    const response = await chunkedPut('signed.bin', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', data.length, (signing) =>
      encodeAwsChunked(data, { chunkSize: 65536, signing }),
    );
    expect(response.status).toBe(200);
    const got = await stack.client().send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'signed.bin' }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(data));
  });

  it('STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: signed chunks and a signed CRC32C trailer', async () => {
    const s3 = stack.client();
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'probe', Body: data, ChecksumAlgorithm: 'CRC32C' }));
    const crc = (await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'probe', ChecksumMode: 'ENABLED' }))).ChecksumCRC32C!;
    const response = await chunkedPut(
      'signed-trailer.bin',
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
      data.length,
      (signing) => encodeAwsChunked(data, { chunkSize: 65536, signing, trailer: { name: 'x-amz-checksum-crc32c', value: crc } }),
      { 'x-amz-trailer': 'x-amz-checksum-crc32c' },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-amz-checksum-crc32c')).toBe(crc);
  });

  it('a chunk signature that does not chain: SignatureDoesNotMatch, nothing stored, no quota used', async () => {
    const before = await stack.accounting();
    const response = await chunkedPut('bad-chain.bin', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', data.length, (signing) =>
      encodeAwsChunked(data, { chunkSize: 65536, signing, breakChunkSignature: 2 }),
    );
    expect(await xmlError(response)).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });
    expect(await stored('bad-chain.bin')).toBe(false);
    expect((await stack.backendKeys('rgw')).filter((k) => k.includes('bad-chain'))).toEqual([]);
    expect(await stack.accounting()).toEqual(before);
  });

  it('a truncated chunked body: IncompleteBody, nothing stored', async () => {
    const response = await chunkedPut('truncated.bin', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', data.length, (signing) =>
      encodeAwsChunked(data, { chunkSize: 65536, signing, truncateTo: 150_000 }),
    );
    expect(await xmlError(response)).toEqual({ status: 400, code: 'IncompleteBody' });
    expect(await stored('truncated.bin')).toBe(false);
  });

  it('a wrong trailing checksum: BadDigest, nothing stored', async () => {
    const response = await chunkedPut(
      'bad-crc.bin',
      'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      data.length,
      () => encodeAwsChunked(data, { chunkSize: 65536, trailer: { name: 'x-amz-checksum-crc32', value: 'AAAAAA==' } }),
      { 'x-amz-trailer': 'x-amz-checksum-crc32' },
    );
    expect(await xmlError(response)).toEqual({ status: 400, code: 'BadDigest' });
    expect(await stored('bad-crc.bin')).toBe(false);
  });

  it('a wrong checksum header and a malformed one', async () => {
    const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
    const wrong = await aws.fetch(`${stack.endpoint}/${stack.bucket}/bad-header.bin`, {
      method: 'PUT',
      body: 'hello',
      headers: { 'x-amz-checksum-crc32': 'AAAAAA==' },
    });
    expect(await xmlError(wrong)).toEqual({ status: 400, code: 'BadDigest' });
    const malformed = await aws.fetch(`${stack.endpoint}/${stack.bucket}/bad-header.bin`, {
      method: 'PUT',
      body: 'hello',
      headers: { 'x-amz-checksum-sha256': 'not-base64!' },
    });
    expect(await xmlError(malformed)).toEqual({ status: 400, code: 'InvalidRequest' });
    expect(await stored('bad-header.bin')).toBe(false);
  });
});
