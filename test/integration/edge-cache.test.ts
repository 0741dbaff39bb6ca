/**
 * The edge cache under wrangler dev, on workerd's own Cache API, with a radosgw backend: whole and ranged reads are
 * answered from a kept whole object (shown by bytes changed on the backend behind the orchestrator's back being
 * served as they were), and no write, overwrite, copy, multipart completion, delete or purge is ever answered with
 * what it replaced. `admin cache stats` and `admin cache purge` through the real CLI, with their bad inputs.
 */
import { CompleteMultipartUploadCommand, CopyObjectCommand, CreateMultipartUploadCommand, DeleteObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { AwsClient } from 'aws4fetch';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBody } from '../support/bytes.ts';
import { cliFor } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'edge-cache-test-admin-token-0123';
let s: TestStack;
let aws: AwsClient;

beforeAll(async () => {
  s = await startTestStack({
    name: 'edge_cache',
    admin: { token: TOKEN },
    backends: [{ name: 'a', kind: 'radosgw' }],
    sections: { cache: { enabled: true, max_object_size: '64KiB', ttl: '10m' } },
  });
  aws = new AwsClient({ ...s.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
}, 300_000);

afterAll(async () => {
  await s?.expectExactAccounting();
  await s?.stop();
});

const cli = cliFor(() => s.endpoint, TOKEN);
const url = (key: string) => `${s.endpoint}/${s.bucket}/${key}`;

async function put(key: string, body: Buffer): Promise<void> {
  await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: body }));
}

/** A signed GET asking for Server-Timing, whose `cache;desc` says whether the edge cache answered. */
async function get(key: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; cache: string | undefined; headers: Headers }> {
  const response = await aws.fetch(url(key), { headers: { 'x-s3o-trace': '1', ...headers } });
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status, body, cache: /cache;desc="(\w+)"/.exec(response.headers.get('server-timing') ?? '')?.[1], headers: response.headers };
}

/**
 * Reads until the cache answers: a read's entry is stored while its body streams, off the request's path, so the
 * next read may still miss (and store the same bytes again). Bounded by a number of reads, not by time.
 */
async function untilCached(key: string, expected: Buffer): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const read = await get(key);
    expect(read.body.equals(expected), `${key} read as stored`).toBe(true);
    if (read.cache === 'hit') return;
    await sleep(50);
  }
  throw new Error(`${key} was never answered from the edge cache`);
}

/** Writes same-length, different bytes over the key's copy on the backend, directly on radosgw. */
async function changeOnBackend(key: string): Promise<void> {
  const [copy] = await s.query<{ physical_key: string }>('select physical_key from object_locations where bucket = $1 and key = $2', [s.bucket, key]);
  if (!copy) throw new Error(`no copy of ${key}`);
  const direct = s.backend('a');
  const original = Buffer.from(await (await direct.aws.fetch(`${direct.base}/${copy.physical_key}`)).arrayBuffer());
  const changed = Buffer.from(original.map((b) => b ^ 0xff));
  expect((await direct.aws.fetch(`${direct.base}/${copy.physical_key}`, { method: 'PUT', body: changed })).ok).toBe(true);
}

describe('edge cache', () => {
  it('answers whole and ranged reads from a kept whole object, without reading the backend', async () => {
    const body = randomBody(40_000);
    await put('kept.bin', body);
    expect((await get('kept.bin')).cache).toBe('miss');
    await untilCached('kept.bin', body);
    await changeOnBackend('kept.bin');
    const whole = await get('kept.bin');
    expect(whole).toMatchObject({ status: 200, cache: 'hit' });
    expect(whole.body.equals(body)).toBe(true);
    const ranged = await get('kept.bin', { range: 'bytes=1000-1999' });
    expect(ranged).toMatchObject({ status: 206, cache: 'hit' });
    expect(ranged.headers.get('content-range')).toBe(`bytes 1000-1999/${body.length}`);
    expect(ranged.body.equals(body.subarray(1000, 2000))).toBe(true);
  });

  it('never answers with a replaced version: overwrite, copy onto the key, multipart completion and delete', async () => {
    // Every version has the same size, so an entry of an old version would pass every length check.
    const SIZE = 10_000;
    const client = s.client();
    let current = randomBody(SIZE);
    await put('changing.bin', current);
    await untilCached('changing.bin', current);

    // A fresh isolate, as another data center's would be: it never read the key, so it has no old entry to remove
    // and only the version in the entry's key keeps the overwrite from being answered with the kept bytes.
    await s.restart();
    expect((await get('changing.bin')).cache).toBe('hit');
    await s.restart();
    current = randomBody(SIZE);
    await put('changing.bin', current);
    expect((await get('changing.bin')).body.equals(current)).toBe(true);
    await untilCached('changing.bin', current);

    const source = randomBody(SIZE);
    await put('source.bin', source);
    await client.send(new CopyObjectCommand({ Bucket: s.bucket, Key: 'changing.bin', CopySource: `${s.bucket}/source.bin` }));
    current = source;
    expect((await get('changing.bin')).body.equals(current)).toBe(true);
    await untilCached('changing.bin', current);

    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s.bucket, Key: 'changing.bin' }));
    current = randomBody(SIZE);
    const part = await client.send(new UploadPartCommand({ Bucket: s.bucket, Key: 'changing.bin', UploadId, PartNumber: 1, Body: current }));
    await client.send(new CompleteMultipartUploadCommand({ Bucket: s.bucket, Key: 'changing.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    expect((await get('changing.bin')).body.equals(current)).toBe(true);
    await untilCached('changing.bin', current);

    await client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: 'changing.bin' }));
    const gone = await get('changing.bin');
    expect(gone.status).toBe(404);
    expect(gone.body.toString()).toContain('<Code>NoSuchKey</Code>');
  });

  it('leaves objects over max_object_size to the backends', async () => {
    const body = randomBody(100_000);
    await put('large.bin', body);
    for (let i = 0; i < 2; i++) {
      const read = await get('large.bin');
      expect(read.body.equals(body)).toBe(true);
      expect(read.cache).toBeUndefined();
    }
  });

  it('admin cache purge makes every covered entry unreachable; admin cache stats counts fleet-wide', async () => {
    const photo = randomBody(3000);
    const video = randomBody(4000);
    await put('photos/1.jpg', photo);
    await put('videos/1.mp4', video);
    await untilCached('photos/1.jpg', photo);
    await untilCached('videos/1.mp4', video);

    const purged = await cli('admin', 'cache', 'purge', '--bucket', s.bucket, '--prefix', 'photos/');
    expect(purged.code, purged.err).toBe(0);
    expect(purged.out).toContain(`purged bucket ${s.bucket}, keys under "photos/"`);
    expect((await get('photos/1.jpg')).cache).toBe('miss');
    expect((await get('videos/1.mp4')).cache).toBe('hit');

    const stats = await cli('admin', 'cache', 'stats', '--json');
    expect(stats.code, stats.err).toBe(0);
    const report = JSON.parse(stats.out) as { enabled: boolean; hits: number; misses: number; hit_ratio: number; purges: { bucket: string; prefix: string }[] };
    expect(report).toMatchObject({ enabled: true, purges: [{ bucket: s.bucket, prefix: 'photos/' }] });
    expect(report.hits).toBeGreaterThan(0);
    expect(report.misses).toBeGreaterThan(0);
    expect(report.hit_ratio).toBeGreaterThan(0);
    const text = await cli('admin', 'cache', 'stats');
    expect(text.out).toMatch(/^edge cache: on \(objects up to 64\.0 KiB, kept for 600 s\)\nhits \d+, misses \d+ \(hit ratio [\d.]+%\), evictions \d+\n/);

    const everything = await cli('admin', 'cache', 'purge');
    expect(everything.code, everything.err).toBe(0);
    expect(everything.out).toContain('purged every bucket:');
    expect((await get('videos/1.mp4')).cache).toBe('miss');
  });

  it('refuses bad purges with a clear error and purges nothing', async () => {
    const [{ count: before } = { count: '0' }] = await s.query<{ count: string }>('select count(*) from cache_purges');
    const unknown = await cli('admin', 'cache', 'purge', '--bucket', 'no-such-bucket');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('no bucket "no-such-bucket" in the configuration');
    const call = (body: string) =>
      fetch(`${s.endpoint}/admin/api/cache/purge`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
    const notJson = await call('photos/');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toContain('the body is not JSON');
    const badPrefix = await call(JSON.stringify({ prefix: 42 }));
    expect(badPrefix.status).toBe(400);
    expect(((await badPrefix.json()) as { error: string }).error).toContain('prefix must be a string');
    const unauthorized = await fetch(`${s.endpoint}/admin/api/cache/purge`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(unauthorized.status).toBe(401);
    const [{ count: after } = { count: '0' }] = await s.query<{ count: string }>('select count(*) from cache_purges');
    expect(after).toBe(before);
  });
});
