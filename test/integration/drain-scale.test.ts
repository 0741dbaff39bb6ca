/**
 * The drain at the scale: 1,000 objects of mixed sizes (four over 64 MiB) spread over three backends, some
 * with a second copy, drained off one backend while clients write, overwrite and delete. Afterwards every object
 * reads back byte-identical, the drained backend holds no live record and accounting is exact.
 */
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'drain-scale-admin-token-0123';
const MiB = 1024 * 1024;
let s: TestStack;

beforeAll(async () => {
  s = await startTestStack({
    name: 'drainscale',
    admin: { token: TOKEN },
    strategy: 'spread',
    backends: [
      { name: 'a', kind: 'radosgw' },
      { name: 'b', kind: 'radosgw' },
      { name: 'c', kind: 's3rver' },
    ],
  });
});

afterAll(async () => {
  await s?.stop();
});

/** Deterministic bytes per key and write (xorshift32). */
function content(key: string, round: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(Math.ceil(size / 4) * 4);
  let x = [...`${key}#${round}`].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7) || 1;
  for (let i = 0; i < bytes.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes.writeUInt32LE(x >>> 0, i);
  }
  return bytes.subarray(0, size);
}

const sha = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

describe('drain at scale', () => {
  it('drains 1,000 mixed objects (some over 64 MiB, some replicated) while clients keep writing', async () => {
    const client = s.client();
    /** key -> sha256 of what it must read back, or null when deleted. */
    const expected = new Map<string, string | null>();
    const put = async (key: string, round: number, size: number) => {
      const body = content(key, round, size);
      await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: body }));
      expected.set(key, sha(body));
    };

    // spread shares them out by bytes held; the large ones, last and one at a time, go round a, b, c, a.
    const small = Array.from({ length: 996 }, (_, i) => `small/${String(i).padStart(4, '0')}`);
    await pool(small, 16, (key) => put(key, 0, 1 + ((key.length * 7919 + Number(key.slice(6)) * 104729) % (256 * 1024))));
    for (let i = 0; i < 4; i++) await put(`large/${i}`, 0, 64 * MiB + (i + 1) * 1_000_003);

    // A second copy of some of a's objects on another backend, as replication makes.
    const onA = await s.query<{ key: string }>(
      "select key from object_locations where backend_name = 'a' and key like 'small/%' order by key limit 40",
    );
    for (const row of onA.filter((_, i) => i % 2 === 0)) await s.addReplica(row.key, 'a', 'b');
    const before = await s.query<{ n: number }>("select count(*)::int as n from object_locations where backend_name = 'a'");
    expect(before[0]?.n).toBeGreaterThan(250);
    const largeOnA = await s.query<{ n: number }>("select count(*)::int as n from object_locations where backend_name = 'a' and stored_size > 64 * 1024 * 1024");
    expect(largeOnA[0]?.n).toBeGreaterThanOrEqual(1);

    const started = await s.admin('POST', '/admin/api/backends/a/drain');
    expect(started.status).toBe(202);
    // Clients keep going while it drains.
    const victims = onA.map((r) => r.key);
    await pool(
      [
        ...victims.slice(0, 15).map((key) => () => put(key, 1, 3000)),
        ...victims.slice(15, 25).map((key) => async () => {
          await client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: key }));
          expected.set(key, null);
        }),
        ...Array.from({ length: 50 }, (_, i) => () => put(`during/${i}`, 1, 10_000 + i)),
        () => put('large/0', 1, 2 * MiB),
      ],
      8,
      (job) => job(),
    );

    const deadline = Date.now() + 240_000;
    let status: Record<string, unknown> = {};
    while (status.mode !== 'drained') {
      if (Date.now() > deadline) throw new Error(`the drain did not finish: ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 500));
      status = (await s.admin('GET', '/admin/api/backends/a/drain')).body;
    }
    expect(status, String(status.last_error)).toMatchObject({ objects_remaining: 0, failures: 0 });
    expect(await s.query("select count(*)::int as n from object_locations where backend_name = 'a'")).toEqual([{ n: 0 }]);
    expect(await s.backendKeys('a')).toEqual([]);
    await s.expectExactAccounting();

    // Every object reads back byte-identical; deleted ones are gone.
    await pool([...expected], 16, async ([key, digest]) => {
      if (digest === null) {
        await expect(client.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }))).rejects.toMatchObject({ name: 'NoSuchKey' });
        return;
      }
      const got = await client.send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
      const hash = createHash('sha256');
      for await (const chunk of got.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
      expect(hash.digest('hex'), key).toBe(digest);
    });
  }, 600_000);
});
