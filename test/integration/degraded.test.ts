/** When Postgres is unreachable: /health says degraded, requests get S3's 503, and service returns by itself. */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Failure } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ name: 'degraded', backends: [{ name: 'local', kind: 's3rver' }] });
});

afterAll(async () => {
  await stack?.resumeDatabase().catch(() => {});
  await stack?.expectExactAccounting();
  await stack?.stop();
});

describe('metadata store outage', () => {
  it('reports degraded health and 503 ServiceUnavailable, then recovers without a restart', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'before.txt', Body: 'kept' }));

    await stack.pauseDatabase();
    expect(await (await fetch(`${stack.endpoint}/health`)).text()).toBe('degraded');
    const unavailable = { code: 'ServiceUnavailable', status: 503 };
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'during.txt', Body: 'x' })))).toEqual(unavailable);
    expect(await s3Failure(s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'before.txt' })))).toEqual(unavailable);

    await stack.resumeDatabase();
    expect(await (await fetch(`${stack.endpoint}/health`)).text()).toBe('ok');
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'before.txt' }));
    expect(await got.Body?.transformToString()).toBe('kept');
    expect(await stack.query("select 1 from objects where key = 'during.txt'")).toEqual([]);
  });
});
