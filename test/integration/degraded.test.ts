/**
 * When Postgres is unreachable: /health says degraded, reads of objects this isolate read recently are served from
 * the backends (bounded location cache), everything else gets S3's 503, and service returns by itself.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Failure } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ name: 'degraded', admin: { token: 'degraded-admin-token-0123' }, backends: [{ name: 'local', kind: 's3rver' }] });
});

afterAll(async () => {
  await stack?.resumeDatabase().catch(() => {});
  await stack?.expectExactAccounting();
  await stack?.stop();
});

/** /health once it says `wanted`, or what it still says after a generous bound. */
async function healthBecomes(wanted: string): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const answer = await (await fetch(`${stack.endpoint}/health`)).text();
    if (answer === wanted || Date.now() > deadline) return answer;
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('metadata store outage', () => {
  it('reports degraded health, serves recently read objects, answers 503 otherwise, then recovers without a restart', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'before.txt', Body: 'kept' }));
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'never-read.txt', Body: 'unknown to the cache' }));
    // Reading it is what puts its record in the isolate's location cache.
    await (await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'before.txt' }))).Body?.transformToString();

    await stack.pauseDatabase();
    // An isolate reuses its health answer for up to 2 s, so the change shows within that (polled, not timed).
    expect(await healthBecomes('degraded')).toBe('degraded');
    const unavailable = { code: 'ServiceUnavailable', status: 503 };
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'during.txt', Body: 'x' })))).toEqual(unavailable);
    const degradedRead = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'before.txt' }));
    expect(await degradedRead.Body?.transformToString()).toBe('kept');
    expect((await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'before.txt' }))).ContentLength).toBe(4);
    expect(await s3Failure(s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'never-read.txt' })))).toEqual(unavailable);
    expect(await s3Failure(s3.send(new ListObjectsV2Command({ Bucket: stack.bucket })))).toEqual(unavailable);

    await stack.resumeDatabase();
    expect(await healthBecomes('ok')).toBe('ok');
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'before.txt' }));
    expect(await got.Body?.transformToString()).toBe('kept');
    expect(await stack.query("select 1 from objects where key = 'during.txt'")).toEqual([]);
    const metrics = await (await fetch(`${stack.endpoint}/metrics`, { headers: { authorization: 'Bearer degraded-admin-token-0123' } })).text();
    expect(metrics).toContain('s3o_degraded_reads_total 2');
  });
});
