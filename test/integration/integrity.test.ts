/**
 * Integrity on radosgw with replication factor 2: every write records the SHA-256 of the client's bytes; a copy
 * overwritten on a backend behind the orchestrator's back is found by `admin scrub` (and by the cron, however many
 * ticks fire at once), dropped and made again by the replicator; backfill-checksums fills digests that are missing;
 * verify_on_read cuts a transfer of a bad copy short and drops it, but never judges a read the client abandoned.
 */
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { bodyBytes, randomBody, sha256 } from '../support/bytes.ts';
import { cliFor } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'integrity-test-admin-token-0123';
const MiB = 1024 * 1024;
let s: TestStack;
const bodies = new Map<string, Buffer>();

beforeAll(async () => {
  s = await startTestStack({
    name: 'integrity',
    admin: { token: TOKEN },
    backends: [
      { name: 'a', kind: 'radosgw' },
      { name: 'b', kind: 'radosgw' },
    ],
    sections: { replication: { factor: 2 } },
    vars: { ENC_KEY: Buffer.alloc(32, 5).toString('base64') },
  });
}, 300_000);

afterAll(async () => {
  await s?.expectExactAccounting();
  await s?.stop();
});

const cli = cliFor(() => s.endpoint, TOKEN);
const cron = () => fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());

async function put(key: string, body: Buffer): Promise<void> {
  bodies.set(key, body);
  await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: body }));
}

async function putMultipart(key: string, parts: Buffer[]): Promise<void> {
  bodies.set(key, Buffer.concat(parts));
  const client = s.client();
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: s.bucket, Key: key }));
  const done = [];
  for (const [i, body] of parts.entries()) {
    const part = await client.send(new UploadPartCommand({ Bucket: s.bucket, Key: key, UploadId, PartNumber: i + 1, Body: body }));
    done.push({ PartNumber: i + 1, ETag: part.ETag });
  }
  await client.send(new CompleteMultipartUploadCommand({ Bucket: s.bucket, Key: key, UploadId, MultipartUpload: { Parts: done } }));
}

async function get(key: string): Promise<Uint8Array> {
  return bodyBytes((await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: key }))).Body);
}

async function copies(key: string): Promise<{ backend_name: string; physical_key: string }[]> {
  return s.query('select backend_name, physical_key from object_locations where bucket = $1 and key = $2 order by backend_name', [s.bucket, key]);
}

async function digest(key: string): Promise<string | null> {
  const [row] = await s.query<{ content_sha256: string | null }>('select content_sha256 from objects where bucket = $1 and key = $2', [s.bucket, key]);
  return row?.content_sha256 ?? null;
}

/** Writes same-length, different bytes over the copy on `backend`, directly on radosgw. */
async function corrupt(key: string, backend: string): Promise<void> {
  const copy = (await copies(key)).find((c) => c.backend_name === backend);
  if (!copy) throw new Error(`no copy of ${key} on ${backend}`);
  const direct = s.backend(backend);
  const original = new Uint8Array(await (await direct.aws.fetch(`${direct.base}/${copy.physical_key}`)).arrayBuffer());
  const changed = Buffer.from(original);
  const middle = Math.floor(changed.length / 2);
  changed[middle] = (changed[middle] ?? 0) ^ 0xff;
  const written = await direct.aws.fetch(`${direct.base}/${copy.physical_key}`, { method: 'PUT', body: changed });
  expect(written.ok).toBe(true);
}

/** Every copy of the key on its backend holds exactly the client's bytes. */
async function expectCopiesExact(key: string): Promise<void> {
  for (const copy of await copies(key)) {
    const direct = s.backend(copy.backend_name);
    const stored = new Uint8Array(await (await direct.aws.fetch(`${direct.base}/${copy.physical_key}`)).arrayBuffer());
    expect(sha256(stored), `${key} on ${copy.backend_name}`).toBe(sha256(bodies.get(key) ?? Buffer.alloc(0)));
  }
}

async function metric(name: string, operation: string): Promise<number> {
  const text = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  return Number(new RegExp(`^${name}\\{operation="${operation}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? '0');
}

async function pushIntegrity(integrity: Record<string, unknown>): Promise<void> {
  const pushed = await s.admin('POST', '/admin/api/config/versions', { yaml: stringify({ ...s.deployedConfig(), integrity }) });
  expect(pushed.status).toBe(201);
}

/** Polls (bounded, generous) until `check` holds. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 240; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function replicate(): Promise<void> {
  const run = await cli('admin', 'replicate', '--json');
  expect(run.code, run.err).toBe(0);
}

const composite = (parts: Buffer[]) =>
  `${createHash('sha256').update(Buffer.concat(parts.map((p) => createHash('sha256').update(p).digest()))).digest('hex')}-${parts.length}`;

describe('integrity', () => {
  it('records the SHA-256 of every write: PUT plain, multipart in its composite form', async () => {
    await put('plain.bin', randomBody(300_000));
    const parts = [randomBody(5 * MiB), randomBody(MiB + 17)];
    await putMultipart('mp.bin', parts);
    expect(await digest('plain.bin')).toBe(sha256(bodies.get('plain.bin') ?? Buffer.alloc(0)));
    expect(await digest('mp.bin')).toBe(composite(parts));
    await replicate();
    expect(await copies('plain.bin')).toHaveLength(2);
    expect(await copies('mp.bin')).toHaveLength(2);
  });

  it('admin scrub finds copies overwritten on radosgw, drops them, and the replicator makes good ones again', async () => {
    await corrupt('plain.bin', 'b');
    await corrupt('mp.bin', 'a');
    const errorsBefore = await metric('s3o_integrity_errors_total', 'scrub');
    const run = await cli('admin', 'scrub', '--json');
    expect(run.code).toBe(1);
    expect(JSON.parse(run.out)).toMatchObject({ status: 'ok', checked: 4, mismatches: 2, dropped: 2, skipped: 0, errors: 0 });
    expect((await copies('plain.bin')).map((c) => c.backend_name)).toEqual(['a']);
    expect((await copies('mp.bin')).map((c) => c.backend_name)).toEqual(['b']);
    expect(await metric('s3o_integrity_errors_total', 'scrub')).toBe(errorsBefore + 2);
    expect(await s.query('select * from cleanup_queue')).toEqual([]);
    await s.expectExactAccounting();

    await replicate();
    for (const key of ['plain.bin', 'mp.bin']) {
      expect(await copies(key)).toHaveLength(2);
      await expectCopiesExact(key);
      expect(sha256(await get(key))).toBe(sha256(bodies.get(key) ?? Buffer.alloc(0)));
    }
    const clean = await cli('admin', 'scrub');
    expect(clean.code, clean.out).toBe(0);
    expect(clean.out).toMatch(/checked 4 copies: 0 did not match/);
    await s.expectExactAccounting();
  });

  it('refuses a bad batch size or a half cursor', async () => {
    for (const bad of ['0', '10001', 'abc', '1.5']) {
      expect((await s.admin('POST', `/admin/api/scrub?batch_size=${bad}`)).status).toBe(400);
      expect((await s.admin('POST', `/admin/api/backfill-checksums?batch_size=${bad}`)).status).toBe(400);
    }
    expect((await s.admin('POST', '/admin/api/backfill-checksums?after_bucket=x')).status).toBe(400);
    const cliRefused = await cli('admin', 'scrub', '--batch-size', 'lots');
    expect(cliRefused.code).not.toBe(0);
  });

  it('three scrub passes at once (admin or cron) are harmless: one drop, exact accounting', async () => {
    await corrupt('plain.bin', 'a');
    const runs = await Promise.all([1, 2, 3].map(() => s.admin('POST', '/admin/api/scrub')));
    // Those that overlap are skipped (the lease); however they interleave, the copy is dropped once.
    expect(runs.filter((r) => r.body.status === 'ok').length).toBeGreaterThanOrEqual(1);
    expect(runs.reduce((n, r) => n + Number(r.body.dropped ?? 0), 0)).toBe(1);
    expect((await copies('plain.bin')).map((c) => c.backend_name)).toEqual(['b']);
    await s.expectExactAccounting();
    await replicate();

    // The cron: switched on by a push, three ticks at once.
    await corrupt('mp.bin', 'b');
    await pushIntegrity({ scrub_interval: '1h', scrub_batch_size: 100 });
    await Promise.all([cron(), cron(), cron()]);
    await until('the cron scrub to drop the bad copy', async () => (await copies('mp.bin')).length === 1);
    expect((await copies('mp.bin')).map((c) => c.backend_name)).toEqual(['a']);
    await s.expectExactAccounting();
    await replicate();
    await expectCopiesExact('mp.bin');
    await pushIntegrity({ scrub_interval: 0 });
  });

  it('backfill-checksums fills the digests missing (keyset pages, progress on stderr)', async () => {
    for (let i = 0; i < 5; i++) await put(`old/${i}`, randomBody(10_000 + i));
    const expected = await s.query<{ key: string; content_sha256: string }>('select key, content_sha256 from objects where bucket = $1 order by key', [s.bucket]);
    await s.query('update objects set content_sha256 = null');
    await s.query('update object_parts set sha256 = null');
    const run = await cli('admin', 'backfill-checksums', '--batch-size', '2', '--json');
    expect(run.code, run.err).toBe(0);
    expect(JSON.parse(run.out)).toEqual({ processed: expected.length, filled: expected.length, skipped: 0, failed: 0 });
    expect(run.err).toMatch(/objects: \d+ filled/);
    const filled = await s.query<{ key: string; content_sha256: string }>('select key, content_sha256 from objects where bucket = $1 order by key', [s.bucket]);
    expect(filled).toEqual(expected);
    expect(await s.query('select 1 from object_parts where sha256 is null')).toEqual([]);
    expect(await metric('s3o_integrity_checks_total', 'backfill')).toBeGreaterThanOrEqual(expected.length);
  });

  it('verify_on_read: a client that stops halfway gives no verdict; a read to the end of a bad copy fails and drops it', async () => {
    await put('big.bin', randomBody(8 * MiB));
    await replicate();
    await pushIntegrity({ verify_on_read: true });
    const checksBefore = await metric('s3o_integrity_checks_total', 'read');
    const errorsBefore = await metric('s3o_integrity_errors_total', 'read');

    // Stops after the first chunk.
    const partial = await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: 'big.bin' }));
    const stream = partial.Body as Readable;
    await new Promise<void>((resolve, reject) => {
      stream.once('data', () => resolve());
      stream.once('error', reject);
    });
    stream.destroy();
    // A whole read after it gives its verdict; the abandoned read dropped nothing and counted no error.
    expect(sha256(await get('big.bin'))).toBe(sha256(bodies.get('big.bin') ?? Buffer.alloc(0)));
    await until('the whole read\'s verdict', async () => (await metric('s3o_integrity_checks_total', 'read')) >= checksBefore + 1);
    expect(await copies('big.bin')).toHaveLength(2);
    expect(await metric('s3o_integrity_errors_total', 'read')).toBe(errorsBefore);

    // Reads go to the oldest copy first (a).
    await corrupt('big.bin', 'a');
    await expect(get('big.bin')).rejects.toThrow();
    await until('the bad copy to be dropped', async () => (await copies('big.bin')).length === 1);
    expect((await copies('big.bin')).map((c) => c.backend_name)).toEqual(['b']);
    expect(await metric('s3o_integrity_errors_total', 'read')).toBe(errorsBefore + 1);
    expect(sha256(await get('big.bin'))).toBe(sha256(bodies.get('big.bin') ?? Buffer.alloc(0)));
    await replicate();
    await expectCopiesExact('big.bin');
    await pushIntegrity({ verify_on_read: false });
    await s.expectExactAccounting();
  });

  it('a sealed copy whose ciphertext was altered on radosgw is corrupt too: dropped by the scrub and made again', async () => {
    await s.redeploy(stringify({ ...s.deployedConfig(), encryption: { enabled: true, master_key: '${ENC_KEY}', chunk_size: '16KiB' } }));
    await put('sealed.bin', randomBody(200_000));
    await replicate();
    expect(await copies('sealed.bin')).toHaveLength(2);
    await corrupt('sealed.bin', 'b');
    const run = await cli('admin', 'scrub', '--json');
    expect(JSON.parse(run.out)).toMatchObject({ status: 'ok', mismatches: 1, dropped: 1, errors: 0 });
    expect((await copies('sealed.bin')).map((c) => c.backend_name)).toEqual(['a']);
    await replicate();
    expect(await copies('sealed.bin')).toHaveLength(2);
    expect(sha256(await get('sealed.bin'))).toBe(sha256(bodies.get('sealed.bin') ?? Buffer.alloc(0)));
    const clean = await cli('admin', 'scrub', '--json');
    expect(JSON.parse(clean.out)).toMatchObject({ status: 'ok', mismatches: 0 });
    await s.expectExactAccounting();
  });
});
