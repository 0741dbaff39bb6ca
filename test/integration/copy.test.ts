/** CopyObject: server-side on one backend, streamed between backends, metadata directives and conditions. */
import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, md5, randomBody, sha256 } from '../support/bytes.ts';
import { s3Failure } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    name: 'copy',
    strategy: 'pack',
    backends: [
      { name: 'rgw', kind: 'radosgw', quotaBytes: 3 * MiB },
      { name: 'local', kind: 's3rver' },
    ],
  });
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

async function placement(key: string): Promise<string[]> {
  const rows = await stack.query<{ backend_name: string }>('select backend_name from object_locations where key = $1', [key]);
  return rows.map((r) => r.backend_name);
}

describe('CopyObject', () => {
  it('copies server-side when the destination backend holds the source, keeping ETag, metadata and checksum', async () => {
    const s3 = stack.client();
    const body = randomBody(200_000);
    await s3.send(
      new PutObjectCommand({ Bucket: stack.bucket, Key: 'src/small.bin', Body: body, ContentType: 'image/png', Metadata: { owner: 'ada' }, ChecksumAlgorithm: 'SHA256' }),
    );
    const out = await s3.send(new CopyObjectCommand({ Bucket: stack.bucket, Key: 'dst/small.bin', CopySource: `${stack.bucket}/src/small.bin` }));
    expect(out.CopyObjectResult?.ETag).toBe(`"${md5(body)}"`);
    expect(await placement('dst/small.bin')).toEqual(['rgw']);
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'dst/small.bin', ChecksumMode: 'ENABLED' }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
    expect(got).toMatchObject({ ContentType: 'image/png', Metadata: { owner: 'ada' }, ETag: `"${md5(body)}"` });
    expect(got.ChecksumSHA256).toBeTruthy();
  });

  it('streams between backends when the destination is another backend, with REPLACE metadata', async () => {
    const s3 = stack.client();
    const body = randomBody(2 * MiB);
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'src/big.bin', Body: body, Metadata: { v: '1' } }));
    expect(await placement('src/big.bin')).toEqual(['rgw']);
    await s3.send(
      new CopyObjectCommand({
        Bucket: stack.bucket,
        Key: 'dst/big.bin',
        CopySource: `/${stack.bucket}/src/big.bin`,
        MetadataDirective: 'REPLACE',
        ContentType: 'text/plain',
        Metadata: { v: '2' },
      }),
    );
    expect(await placement('dst/big.bin')).toEqual(['local']);
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'dst/big.bin' }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
    expect(got).toMatchObject({ ContentType: 'text/plain', Metadata: { v: '2' } });
  });

  it('copies keys that need encoding in the copy source', async () => {
    const s3 = stack.client();
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'src/sp ace+é.txt', Body: 'odd name' }));
    await s3.send(new CopyObjectCommand({ Bucket: stack.bucket, Key: 'dst/odd.txt', CopySource: encodeURI(`${stack.bucket}/src/sp ace+é.txt`).replace(/\+/g, '%2B') }));
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'dst/odd.txt' }));
    expect(await got.Body?.transformToString()).toBe('odd name');
  });

  it('honours x-amz-copy-source-if-* conditions', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    const etag = (await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'src/small.bin' }))).ETag;
    const copy = (extra: Record<string, unknown>) =>
      s3.send(new CopyObjectCommand({ Bucket: stack.bucket, Key: 'dst/cond.bin', CopySource: `${stack.bucket}/src/small.bin`, ...extra }));
    await copy({ CopySourceIfMatch: etag });
    expect(await s3Failure(copy({ CopySourceIfMatch: '"0000"' }))).toEqual({ code: 'PreconditionFailed', status: 412 });
    expect(await s3Failure(copy({ CopySourceIfNoneMatch: etag }))).toEqual({ code: 'PreconditionFailed', status: 412 });
    expect(await s3Failure(copy({ CopySourceIfModifiedSince: new Date(Date.now() + 3600_000) }))).toEqual({ code: 'PreconditionFailed', status: 412 });
  });

  it('refuses a missing source, another bucket, an unknown bucket, a malformed source and a self-copy without REPLACE', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    const copy = (CopySource: string, Key = 'dst/x') => s3.send(new CopyObjectCommand({ Bucket: stack.bucket, Key, CopySource }));
    expect(await s3Failure(copy(`${stack.bucket}/src/missing`))).toEqual({ code: 'NoSuchKey', status: 404 });
    expect(await s3Failure(copy(`${stack.otherBucket}/src/small.bin`))).toEqual({ code: 'AccessDenied', status: 403 });
    expect(await s3Failure(copy('no-such-bucket/src/small.bin'))).toEqual({ code: 'NoSuchBucket', status: 404 });
    expect(await s3Failure(copy('no-slash-here'))).toEqual({ code: 'InvalidArgument', status: 400 });
    expect(await s3Failure(copy(`${stack.bucket}/src/small.bin`, 'src/small.bin'))).toEqual({ code: 'InvalidRequest', status: 400 });
    expect(await stack.query("select 1 from objects where key = 'dst/x'")).toEqual([]);
  });
});
