/** Conditional GET/HEAD (304/412 in AWS's order) and conditional writes (If-None-Match: *, If-Match). */
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Failure } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

let stack: TestStack;
let etag: string;
let lastModified: Date;

beforeAll(async () => {
  stack = await startTestStack({ name: 'conditionals', backends: [{ name: 'local', kind: 's3rver' }] });
  const s3 = stack.client();
  etag = (await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'doc.txt', Body: 'version one' }))).ETag!;
  lastModified = (await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'doc.txt' }))).LastModified!;
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

const hourBefore = () => new Date(lastModified.getTime() - 3600_000);
const hourAfter = () => new Date(lastModified.getTime() + 3600_000);

describe('conditional reads', () => {
  it('If-Match / If-None-Match on GET and HEAD', async () => {
    const s3 = stack.client();
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'doc.txt', IfMatch: etag }));
    expect(await got.Body?.transformToString()).toBe('version one');
    expect(await s3Failure(s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'doc.txt', IfMatch: '"0000"' })))).toEqual({
      code: 'PreconditionFailed',
      status: 412,
    });
    expect((await s3Failure(s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'doc.txt', IfNoneMatch: etag })))).status).toBe(304);
    expect((await s3Failure(s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'doc.txt', IfNoneMatch: etag })))).status).toBe(304);
    expect((await s3Failure(s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'doc.txt', IfMatch: '"0000"' })))).status).toBe(412);
  });

  it('dates, and the precedence of the ETag conditions over them', async () => {
    const s3 = stack.client();
    const cases: [Record<string, unknown>, number][] = [
      [{ IfModifiedSince: hourAfter() }, 304],
      [{ IfModifiedSince: hourBefore() }, 200],
      [{ IfUnmodifiedSince: hourBefore() }, 412],
      [{ IfUnmodifiedSince: hourAfter() }, 200],
      [{ IfMatch: etag, IfUnmodifiedSince: hourBefore() }, 200],
      [{ IfNoneMatch: '"other"', IfModifiedSince: hourAfter() }, 200],
    ];
    for (const [conditions, status] of cases) {
      const outcome = await s3
        .send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'doc.txt', ...conditions }))
        .then((r) => r.$metadata.httpStatusCode, (err: { $metadata?: { httpStatusCode?: number } }) => err.$metadata?.httpStatusCode);
      expect(outcome, JSON.stringify(conditions)).toBe(status);
    }
  });
});

describe('conditional writes', () => {
  it('If-None-Match: * creates once and refuses to overwrite', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'once.txt', Body: 'first', IfNoneMatch: '*' }));
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'once.txt', Body: 'second', IfNoneMatch: '*' })))).toEqual({
      code: 'PreconditionFailed',
      status: 412,
    });
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'once.txt' }));
    expect(await got.Body?.transformToString()).toBe('first');
  });

  it('If-Match overwrites only the version the client saw', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    const first = await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'cas.txt', Body: 'v1' }));
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'cas.txt', Body: 'v2', IfMatch: first.ETag }));
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'cas.txt', Body: 'v3', IfMatch: first.ETag })))).toEqual({
      code: 'PreconditionFailed',
      status: 412,
    });
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'absent.txt', Body: 'x', IfMatch: first.ETag })))).toEqual({
      code: 'NoSuchKey',
      status: 404,
    });
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'cas.txt' }));
    expect(await got.Body?.transformToString()).toBe('v2');
  });

  it('racing creators with If-None-Match: * leave exactly one winner and exact accounting', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) => s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'race.txt', Body: `writer ${i}`, IfNoneMatch: '*' }))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(412);
    }
    await stack.expectExactAccounting();
  });
});
