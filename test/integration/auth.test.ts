/** Who may do what: SigV4 header and presigned auth, bucket isolation, and the signed-payload check. */
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBody, sha256 } from '../support/bytes.ts';
import { s3Failure, xmlError } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    name: 'auth',
    maxObjectSize: 8 * 1024 * 1024,
    backends: [{ name: 'rgw', kind: 'radosgw', quotaBytes: 256 * 1024 ** 2 }],
  });
  await stack.client().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'hello.txt', Body: 'hello' }));
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

describe('header auth', () => {
  it('lets both credentials of the bucket in', async () => {
    for (const creds of stack.credentials.slice(0, 2)) {
      const got = await stack.client(creds).send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'hello.txt' }));
      expect(await got.Body?.transformToString()).toBe('hello');
    }
  });

  it('refuses a wrong secret with SignatureDoesNotMatch', async () => {
    const client = stack.client({ accessKeyId: stack.credentials[0]!.accessKeyId, secretAccessKey: 'not-the-secret' });
    expect(await s3Failure(client.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'hello.txt' })))).toEqual({
      code: 'SignatureDoesNotMatch',
      status: 403,
    });
  });

  it('refuses an unknown key with InvalidAccessKeyId', async () => {
    const client = stack.client({ accessKeyId: 'no-such-key', secretAccessKey: 'whatever-secret' });
    expect(await s3Failure(client.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'hello.txt' })))).toEqual({
      code: 'InvalidAccessKeyId',
      status: 403,
    });
  });

  it('refuses a skewed clock with RequestTimeTooSkewed', async () => {
    // The SDK corrects its clock from the error and retries; one attempt shows what the server said.
    const client = stack.client(undefined, { systemClockOffset: 20 * 60_000, maxAttempts: 1 });
    expect(await s3Failure(client.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'hello.txt' })))).toEqual({
      code: 'RequestTimeTooSkewed',
      status: 403,
    });
  });

  it("refuses another bucket's credential with AccessDenied, for reads, writes and listings", async () => {
    const other = stack.client(stack.credentials[2]);
    expect(await s3Failure(other.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'hello.txt' })))).toEqual({
      code: 'AccessDenied',
      status: 403,
    });
    expect(await s3Failure(other.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'intruder.txt', Body: 'x' })))).toEqual({
      code: 'AccessDenied',
      status: 403,
    });
    expect(await s3Failure(other.send(new ListObjectsV2Command({ Bucket: stack.bucket })))).toEqual({ code: 'AccessDenied', status: 403 });
    expect(await stack.query("select 1 from objects where key = 'intruder.txt'")).toEqual([]);
  });

  it('answers NoSuchBucket (404) for a bucket that is not configured, for reads, writes, listings and HEAD', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    const noSuchBucket = { code: 'NoSuchBucket', status: 404 };
    expect(await s3Failure(s3.send(new ListObjectsV2Command({ Bucket: 'no-such-bucket' })))).toEqual(noSuchBucket);
    expect(await s3Failure(s3.send(new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'hello.txt' })))).toEqual(noSuchBucket);
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: 'no-such-bucket', Key: 'planted.txt', Body: 'x' })))).toEqual(noSuchBucket);
    const head = await s3Failure(s3.send(new HeadBucketCommand({ Bucket: 'no-such-bucket' })));
    expect(head.status).toBe(404);
    // The error document names the bucket, as S3's does.
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'no-such-bucket', Key: 'k' }), { expiresIn: 60 });
    const answer = await fetch(url);
    expect(answer.status).toBe(404);
    expect(await answer.text()).toContain('<BucketName>no-such-bucket</BucketName>');
    expect(await stack.query("select 1 from objects where key = 'planted.txt'")).toEqual([]);
  });

  it('refuses anonymous requests with AccessDenied', async () => {
    expect(await xmlError(await fetch(`${stack.endpoint}/${stack.bucket}/hello.txt`))).toEqual({ status: 403, code: 'AccessDenied' });
  });

  it('refuses a body that does not match its signed hash, and leaves no object and no quota behind', async () => {
    const before = await stack.accounting();
    const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
    const signedBody = randomBody(2 * 1024 * 1024);
    const tampered = Buffer.from(signedBody);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 1) ^ 0xff, tampered.length - 1);
    const signed = await aws.sign(`${stack.endpoint}/${stack.bucket}/tampered.bin`, {
      method: 'PUT',
      body: new Uint8Array(signedBody),
      headers: { 'x-amz-content-sha256': sha256(signedBody) },
    });
    const response = await fetch(signed.url, { method: 'PUT', headers: signed.headers, body: new Uint8Array(tampered) });
    expect(await xmlError(response)).toEqual({ status: 400, code: 'XAmzContentSHA256Mismatch' });
    expect(await stack.query("select 1 from objects where key = 'tampered.bin'")).toEqual([]);
    expect((await stack.backendKeys('rgw')).filter((k) => k.includes('tampered.bin'))).toEqual([]);
    expect(await stack.accounting()).toEqual(before);
  });
});

describe('S3 limits', () => {
  it('refuses an object over max_object_size with EntityTooLarge, and a key over 1024 bytes with KeyTooLongError', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'big.bin', Body: randomBody(8 * 1024 * 1024 + 1) })))).toEqual({
      code: 'EntityTooLarge',
      status: 400,
    });
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'k'.repeat(1025), Body: 'x' })))).toEqual({
      code: 'KeyTooLongError',
      status: 400,
    });
    const ok = await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'k'.repeat(1024), Body: 'x' }));
    expect(ok.$metadata.httpStatusCode).toBe(200);
    expect(await stack.query("select 1 from objects where key = 'big.bin'")).toEqual([]);
  });
});

describe('presigned URLs', () => {
  it('work for GET and PUT', async () => {
    const client = stack.client();
    const putUrl = await getSignedUrl(client, new PutObjectCommand({ Bucket: stack.bucket, Key: 'presigned.txt' }), { expiresIn: 300 });
    const put = await fetch(putUrl, { method: 'PUT', body: 'via presigned url' });
    expect(put.status).toBe(200);
    const getUrl = await getSignedUrl(client, new GetObjectCommand({ Bucket: stack.bucket, Key: 'presigned.txt' }), { expiresIn: 300 });
    const got = await fetch(getUrl);
    expect(await got.text()).toBe('via presigned url');
  });

  it('refuse an expired URL with AccessDenied', async () => {
    const url = await getSignedUrl(stack.client(), new GetObjectCommand({ Bucket: stack.bucket, Key: 'hello.txt' }), {
      expiresIn: 60,
      signingDate: new Date(Date.now() - 3600_000),
    });
    expect(await xmlError(await fetch(url))).toEqual({ status: 403, code: 'AccessDenied' });
  });

  it('refuse an expiry over 7 days and a tampered URL', async () => {
    const client = stack.client();
    const url = await getSignedUrl(client, new GetObjectCommand({ Bucket: stack.bucket, Key: 'hello.txt' }), { expiresIn: 300 });
    const tooLong = url.replace(/X-Amz-Expires=\d+/, 'X-Amz-Expires=604801');
    expect(await xmlError(await fetch(tooLong))).toEqual({ status: 400, code: 'AuthorizationQueryParametersError' });
    const otherKey = url.replace('hello.txt', 'other.txt');
    expect(await xmlError(await fetch(otherKey))).toEqual({ status: 403, code: 'SignatureDoesNotMatch' });
  });
});
