/**
 * Sync and reconcile on radosgw: after the database loses every record (a restored backup), `admin sync` brings
 * each one back from what the backend holds, byte-exact, and a second run changes nothing; foreign objects are
 * adopted only when asked, never one that looks like another bucket's copy; the reconcile cron reports missing
 * copies, orphans and foreign objects, and with delete_orphans the cleanup queue removes the orphans. The
 * accounting is exact after every test.
 */
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliFor } from '../support/cli.ts';
import { keyedBytes } from '../support/patterns.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'sync-test-admin-token-0123';
let s: TestStack;
const objects = new Map<string, Uint8Array>();
/** A copy in the layout of `bucket` that no record references, written straight onto backend b. */
let orphanKey = '';
let orphanWrittenAt = 0;

beforeAll(async () => {
  s = await startTestStack({ name: 'sync', admin: { token: TOKEN }, strategy: 'pack', backends: [{ name: 'a', kind: 'radosgw' }, { name: 'b', kind: 'radosgw' }] });
  const client = s.client();
  const keys = ['plain/one', 'plain/two', 'nested/deep/three', 'tilde~in/key', 'empty', 'space and ü'];
  for (const [i, key] of keys.entries()) {
    const body = key === 'empty' ? new Uint8Array() : keyedBytes(key, 1, 1000 + i * 777);
    await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: body }));
    objects.set(key, body);
  }
  // An overwrite: only its last version is live.
  objects.set('plain/one', keyedBytes('plain/one', 2, 4321));
  await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: 'plain/one', Body: objects.get('plain/one') }));
  const big = keyedBytes('multi/part', 1, 11 * 1024 * 1024);
  await new Upload({ client, params: { Bucket: s.bucket, Key: 'multi/part', Body: big }, partSize: 5 * 1024 * 1024 }).done();
  objects.set('multi/part', big);
  orphanKey = `${s.bucket}/orphan~0000abcde0123456789abcdef`;
  const b = s.backend('b');
  expect((await b.aws.fetch(`${b.base}/${orphanKey}`, { method: 'PUT', body: 'left behind' })).ok).toBe(true);
  orphanWrittenAt = Date.now();
});

afterAll(async () => {
  await s?.stop();
});

const cli = cliFor(() => s.endpoint, TOKEN);
const cron = () => fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());

async function read(key: string): Promise<Uint8Array> {
  const got = await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
  return got.Body!.transformToByteArray();
}

async function expectAllReadable(): Promise<void> {
  for (const [key, body] of objects) expect(Buffer.compare(Buffer.from(await read(key)), Buffer.from(body)), key).toBe(0);
  const listed = await s.client().send(new ListObjectsV2Command({ Bucket: s.bucket }));
  expect((listed.Contents ?? []).map((c) => c.Key).sort()).toEqual([...objects.keys()].sort());
}

/** What restoring a database backup from before these objects were written leaves: no record of them. */
async function wipeRecords(): Promise<void> {
  await s.query('delete from object_parts');
  await s.query('delete from object_locations');
  await s.query('delete from objects');
  await s.query('update backend_quotas set bytes_used = 0');
  // Fresh isolates: nothing remembered from before the wipe.
  await s.restart();
}

describe('sync', () => {
  it('refuses bad input with clear errors', async () => {
    const noBucket = await cli('admin', 'sync', '--backend', 'a');
    expect(noBucket.code).toBe(2);
    expect(noBucket.err).toContain('admin sync needs --backend BACKEND and --bucket BUCKET');
    const unknown = await cli('admin', 'sync', '--backend', 'nope', '--bucket', s.bucket);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('backend must name a configured backend (a, b), got "nope"');
    const badAge = await cli('admin', 'sync', '--backend', 'a', '--bucket', s.bucket, '--min-age', 'soon');
    expect(badAge.code).toBe(2);
    expect(badAge.err).toContain('--min-age must be a duration such as 0, 90s, 15m or 1h, got "soon"');
    const badBody = await s.admin('POST', '/admin/api/sync', { backend: 'a', bucket: s.bucket, min_age_seconds: -1 });
    expect(badBody).toEqual({ status: 400, body: { error: 'min_age_seconds must be a whole number of seconds >= 0' } });
  });

  it('after the records are lost, sync restores every one: dry run first, then byte-exact reads; a second run changes nothing', async () => {
    await wipeRecords();
    expect((await s.client().send(new ListObjectsV2Command({ Bucket: s.bucket }))).KeyCount).toBe(0);

    // Just written: the default safety age leaves them alone.
    const young = JSON.parse((await cli('admin', 'sync', '--backend', 'a', '--bucket', s.bucket, '--dry-run', '--json')).out) as { imported: number; skipped_by_reason: Record<string, number> };
    expect(young.imported).toBe(0);
    expect(young.skipped_by_reason.recent).toBeGreaterThan(0);

    const dry = await cli('admin', 'sync', '--backend', 'a', '--bucket', s.bucket, '--min-age', '0', '--dry-run');
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toContain(`dry run: would import ${objects.size} objects`);
    expect((await s.query('select count(*)::int as n from objects'))[0]).toEqual({ n: 0 });

    const run = await cli('admin', 'sync', '--backend', 'a', '--bucket', s.bucket, '--min-age', '0', '--json');
    expect(run.code, run.out).toBe(0);
    const summary = JSON.parse(run.out) as { imported: number; skipped: number; bytes: number; skipped_by_reason: Record<string, number> };
    expect(summary.imported).toBe(objects.size);
    expect(summary.bytes).toBe([...objects.values()].reduce((n, b) => n + b.byteLength, 0));
    await expectAllReadable();
    // The object keeps its original write time, so lifecycle expiry is not restarted by the import.
    const [restored] = await s.query<{ etag: string }>("select etag from objects where key = 'multi/part'");
    expect(restored?.etag).toMatch(/^"[0-9a-f]{32}-3"$/);
    await s.expectExactAccounting();

    const again = JSON.parse((await cli('admin', 'sync', '--backend', 'a', '--bucket', s.bucket, '--min-age', '0', '--json')).out) as { imported: number; skipped_by_reason: Record<string, number> };
    expect(again.imported).toBe(0);
    expect(again.skipped_by_reason.recorded).toBe(objects.size);
    await s.expectExactAccounting();
  });

  it('adopts foreign objects only with --adopt-foreign, never one shaped like another bucket\'s copy', async () => {
    const a = s.backend('a');
    const foreign = keyedBytes('foreign', 1, 3000);
    expect((await a.aws.fetch(`${a.base}/archive/photo.jpg`, { method: 'PUT', body: Buffer.from(foreign) })).ok).toBe(true);
    // Named like a copy of the other tenant's bucket: adopting it would hand its bytes to this bucket's clients.
    const disguised = `${s.otherBucket}/secret~0000abcde0123456789abcd01`;
    expect((await a.aws.fetch(`${a.base}/${disguised}`, { method: 'PUT', body: 'not yours' })).ok).toBe(true);

    const plain = JSON.parse((await cli('admin', 'sync', '--backend', 'a', '--bucket', s.bucket, '--min-age', '0', '--json')).out) as { imported: number; skipped_by_reason: Record<string, number> };
    expect(plain.imported).toBe(0);

    const adopted = JSON.parse((await cli('admin', 'sync', '--backend', 'a', '--bucket', s.bucket, '--min-age', '0', '--adopt-foreign', '--json')).out) as { imported: number; skipped_by_reason: Record<string, number> };
    expect(adopted.imported).toBe(1);
    expect(adopted.skipped_by_reason['another-bucket']).toBe(1);
    objects.set('archive/photo.jpg', foreign);
    await expectAllReadable();
    await expect(s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: disguised }))).rejects.toMatchObject({ name: 'NoSuchKey' });
    // The bytes stayed where they were; a client's delete removes them like any copy.
    expect(await s.backendKeys('a')).toContain('archive/photo.jpg');
    await s.client().send(new DeleteObjectCommand({ Bucket: s.bucket, Key: 'archive/photo.jpg' }));
    objects.delete('archive/photo.jpg');
    expect(await s.backendKeys('a')).not.toContain('archive/photo.jpg');
    expect((await a.aws.fetch(`${a.base}/${disguised}`, { method: 'DELETE' })).ok).toBe(true);
    await s.expectExactAccounting();
  });
});

describe('reconcile', () => {
  async function push(reconcile: Record<string, unknown>): Promise<void> {
    const pushed = await s.admin('POST', '/admin/api/config/versions', { yaml: stringify({ ...s.deployedConfig(), reconcile }) });
    expect(pushed.status, JSON.stringify(pushed.body)).toBe(201);
  }

  async function totals(): Promise<Record<string, number>> {
    const status = JSON.parse((await cli('admin', 'status', '--json')).out) as { jobs: { reconcile: { totals: Record<string, number> } } };
    return status.jobs.reconcile.totals;
  }

  /** Ticks until a pass completes (three at once the first time: they share one lease). */
  async function pass(): Promise<Record<string, number>> {
    const before = (await totals()).passes ?? 0;
    await Promise.all([cron(), cron(), cron()]);
    for (let i = 0; i < 10 && ((await totals()).passes ?? 0) === before; i++) await cron();
    const after = await totals();
    expect(after.passes).toBe(before + 1);
    return after;
  }

  it('reports missing copies, orphans and foreign objects, and deletes orphans only when told to', async () => {
    const a = s.backend('a');
    // A foreign object nobody adopts, and a recorded copy whose bytes vanish from its backend.
    expect((await a.aws.fetch(`${a.base}/someone-else/file.bin`, { method: 'PUT', body: 'foreign' })).ok).toBe(true);
    const [lost] = await s.query<{ physical_key: string }>("select physical_key from object_locations where key = 'plain/two' and backend_name = 'a'");
    const saved = await (await a.aws.fetch(`${a.base}/${lost!.physical_key}`)).arrayBuffer();
    expect((await a.aws.fetch(`${a.base}/${lost!.physical_key}`, { method: 'DELETE' })).ok).toBe(true);
    // The orphan must be older than orphan_min_age (1m, its floor) before it may be called one.
    const wait = orphanWrittenAt + 62_000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

    await push({ enabled: true, orphan_min_age: '1m' });
    const report = await pass();
    expect(report).toMatchObject({ last_missing: 1, last_orphans: 1, last_orphan_bytes: 'left behind'.length, last_foreign: 1, last_orphans_queued: 0 });
    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toMatch(/^s3o_reconcile_missing_copies 1$/m);
    expect(metrics).toMatch(/^s3o_reconcile_orphan_objects 1$/m);
    expect(metrics).toMatch(/^s3o_reconcile_foreign_objects 1$/m);
    expect(await s.backendKeys('b')).toContain(orphanKey);

    await push({ enabled: true, orphan_min_age: '1m', delete_orphans: true });
    // Due again (the interval is at least an hour).
    await s.query("update job_leases set last_run_at = now() - interval '2 days' where name = 'reconcile'");
    const deleting = await pass();
    expect(deleting).toMatchObject({ last_orphans: 1, last_orphans_queued: 1 });
    // The next tick's cleanup queue deletes it (it checks the copy is still not live first).
    await cron();
    expect(await s.backendKeys('b')).not.toContain(orphanKey);
    expect(await s.backendKeys('a')).toContain('someone-else/file.bin');
    expect((await s.query<{ n: number }>("select count(*)::int as n from cleanup_queue where reason = 'reconcile_orphan'"))[0]?.n).toBe(0);

    // Put the lost bytes back; every object reads as written.
    expect((await a.aws.fetch(`${a.base}/${lost!.physical_key}`, { method: 'PUT', body: saved })).ok).toBe(true);
    await expectAllReadable();
    await s.expectExactAccounting();
  });
});
