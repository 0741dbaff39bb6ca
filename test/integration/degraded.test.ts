/** When Postgres is unreachable: /health says degraded, requests get S3's 503, and service returns by itself. */
import { GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    if (err instanceof S3ServiceException) return `${err.$metadata.httpStatusCode} ${err.name}`;
    throw err;
  }
}

describe('metadata store outage', () => {
  it('reports degraded health and 503 ServiceUnavailable, then recovers without a restart', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    expect(await code(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'before.txt', Body: 'kept' })))).toBe('ok');

    await stack.pauseDatabase();
    expect(await (await fetch(`${stack.endpoint}/health`)).text()).toBe('degraded');
    expect(await code(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'during.txt', Body: 'x' })))).toBe(
      '503 ServiceUnavailable',
    );
    expect(await code(s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'before.txt' })))).toBe('503 ServiceUnavailable');

    await stack.resumeDatabase();
    expect(await (await fetch(`${stack.endpoint}/health`)).text()).toBe('ok');
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'before.txt' }));
    expect(await got.Body?.transformToString()).toBe('kept');
    expect(await stack.query("select 1 from objects where key = 'during.txt'")).toEqual([]);
  });
});
