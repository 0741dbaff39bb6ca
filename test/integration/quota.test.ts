/** Placement by quota: pack order, full backends, 507 before the body, and exact accounting under races. */
import { DeleteObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { request as httpRequest } from 'node:http';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBody } from '../support/bytes.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    name: 'quota',
    strategy: 'pack',
    backends: [
      { name: 'first', kind: 'radosgw', quotaBytes: 4 * MiB },
      { name: 'second', kind: 's3rver', quotaBytes: 10 * MiB },
    ],
  });
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

async function put(key: string, size: number): Promise<{ ok: boolean; code?: string; status?: number }> {
  try {
    await stack.client(undefined, { maxAttempts: 1 }).send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: randomBody(size) }));
    return { ok: true };
  } catch (err) {
    if (err instanceof S3ServiceException) return { ok: false, code: err.name, status: err.$metadata.httpStatusCode };
    throw err;
  }
}

async function usage(): Promise<Record<string, number>> {
  return Object.fromEntries((await stack.accounting()).map((b) => [b.backend, b.bytesUsed]));
}

describe('quota placement', () => {
  it('synced quota limits from the config into the database', async () => {
    const rows = await stack.query<{ backend_name: string; bytes_limit: string }>(
      'select backend_name, bytes_limit from backend_quotas order by backend_name',
    );
    expect(rows.map((r) => [r.backend_name, Number(r.bytes_limit)])).toEqual([
      ['first', 4 * MiB],
      ['second', 10 * MiB],
    ]);
  });

  it('packs into the first backend until it is full, then moves to the next', async () => {
    expect(await put('p/1', 3 * MiB)).toEqual({ ok: true });
    expect(await put('p/2', 2 * MiB)).toEqual({ ok: true });
    expect(await usage()).toEqual({ first: 3 * MiB, second: 2 * MiB });
  });

  it('refuses with 507 InsufficientStorage when nothing has room, before reading the body', async () => {
    const refused = await put('p/huge', 20 * MiB);
    expect(refused).toEqual({ ok: false, code: 'InsufficientStorage', status: 507 });
    // A signed request that promises 1 GiB but sends no byte of it still gets its answer.
    const status = await statusWithoutSendingBody(`${stack.endpoint}/${stack.bucket}/p/unsent`, 1024 * MiB);
    expect(status).toBe(507);
    expect(await stack.query("select 1 from objects where key = 'p/unsent'")).toEqual([]);
  });

  it('overwrite and delete give the bytes back', async () => {
    expect(await put('p/1', 1 * MiB)).toEqual({ ok: true });
    expect(await usage()).toEqual({ first: 1 * MiB, second: 2 * MiB });
    await stack.client().send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: 'p/2' }));
    expect(await usage()).toEqual({ first: 1 * MiB, second: 0 });
  });

  it('a PUT that loses the race for the last room on its backend is moved to one with room, never refused', async () => {
    // 3 MiB free on first (packed first) and 10 MiB on second: twelve writers of 1 MiB all choose first at once, so
    // most lose the race there after their bytes arrived; each is moved to second without being sent again.
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => put(`lost/${i}`, MiB)));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    const placed = await stack.query<{ backend_name: string; n: string }>(
      "select backend_name, count(*) as n from object_locations where key like 'lost/%' group by backend_name order by backend_name",
    );
    expect(placed.map((r) => [r.backend_name, Number(r.n)])).toEqual([
      ['first', 3],
      ['second', 9],
    ]);
    expect(await usage()).toEqual({ first: 4 * MiB, second: 9 * MiB });
    // The losers' bytes left first: it holds exactly what is recorded there.
    expect(await stack.backendKeys('first')).toHaveLength(4);
    await stack.expectExactAccounting();
    for (let i = 0; i < 12; i++) await stack.client().send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: `lost/${i}` }));
    expect(await usage()).toEqual({ first: 1 * MiB, second: 0 });
  });

  it('keeps the sum exact when concurrent PUTs race for the last bytes', async () => {
    // 3 MiB free on first and 10 MiB on second: 13 slots of 1 MiB for 24 racing writers.
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => put(`race/${i}`, MiB)));
    const ok = results.filter((r) => r.ok).length;
    const refused = results.filter((r) => !r.ok);
    // Refused when nothing has room (507), or when the backend it chose filled up meanwhile while another had not
    // yet (a retryable 503).
    expect(refused.every((r) => (r.code === 'InsufficientStorage' && r.status === 507) || (r.code === 'ServiceUnavailable' && r.status === 503))).toBe(true);
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(13);
    const used = await usage();
    expect(used.first).toBeLessThanOrEqual(4 * MiB);
    expect(used.second).toBeLessThanOrEqual(10 * MiB);
    await stack.expectExactAccounting();
    const stored = await stack.query<{ n: string }>("select count(*) as n from objects where key like 'race/%'");
    expect(Number(stored[0]?.n)).toBe(ok);
  });
});

describe('one-batch commits under concurrent writers', () => {
  it('overwrites and deletes racing on the same keys keep one record per key and the accounting exact', async () => {
    await Promise.all(Array.from({ length: 24 }, (_, i) => stack.client().send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: `race/${i}` }))));
    const client = stack.client(undefined, { maxAttempts: 1 });
    const keys = ['hot/a', 'hot/b', 'hot/c'];
    const sizes = new Map<string, Set<number>>(keys.map((k) => [k, new Set()]));
    // 48 writers and deleters on 3 keys at once: every commit (and delete) is one batch racing the others.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 48 }, async (_, i) => {
        const key = keys[i % keys.length]!;
        if (i % 5 === 4) return client.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: key }));
        const size = 1024 * (1 + i);
        sizes.get(key)!.add(size);
        return client.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: randomBody(size) }));
      }),
    );
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
    await stack.expectExactAccounting();
    const rows = await stack.query<{ key: string; copies: string; size: string; stored: string }>(
      "select o.key, count(l.*) as copies, o.size, coalesce(sum(l.stored_size), 0) as stored from objects o left join object_locations l using (bucket, key) where o.key like 'hot/%' group by o.key, o.size",
    );
    for (const row of rows) {
      // One copy per object (replication factor 1), of the size one of its writers sent.
      expect(Number(row.copies)).toBe(1);
      expect(sizes.get(row.key)?.has(Number(row.size))).toBe(true);
      expect(Number(row.stored)).toBe(Number(row.size));
    }
  });
});

/** Sends only the headers of a signed PUT and resolves with the status the server answers before any body byte. */
async function statusWithoutSendingBody(url: string, contentLength: number): Promise<number> {
  const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
  const signed = await aws.sign(url, {
    method: 'PUT',
    headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'content-length': String(contentLength) },
  });
  const headers: Record<string, string> = {};
  signed.headers.forEach((value, name) => (headers[name] = value));
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'PUT', headers, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error('no answer without a body: the server waited for it'));
    }, 20_000);
    req.on('response', (res) => {
      clearTimeout(timer);
      res.resume();
      req.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.flushHeaders();
  });
}
