/**
 * remove-backend as the seed describes it: records only, a purge preview, a purge with a confirmation token
 * (valid 60 s, this backend only, once), and no removal while a drain runs.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { s3Failure } from '../support/s3-errors.ts';
import { cliFor } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'remove-test-admin-token-0123';
let s: TestStack;

beforeAll(async () => {
  s = await startTestStack({
    name: 'remove',
    admin: { token: TOKEN },
    captureLogs: true,
    strategy: 'pack',
    backends: [
      { name: 'a', kind: 'radosgw' },
      { name: 'b', kind: 's3rver', quotaBytes: 1, faultProxy: true },
      { name: 'c', kind: 's3rver' },
    ],
  });
});

afterAll(async () => {
  await s?.stop();
});

const cli = cliFor(() => s.endpoint, TOKEN);
const metricsText = async () => (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();

const put = (key: string, body: string) => s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: body }));
const read = async (key: string) => (await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: key }))).Body?.transformToString();

describe('admin remove-backend', () => {
  it('refuses while the backend drains', async () => {
    await put('drain/probe.txt', 'stays');
    // With no room on b or c, the drain of a waits, so it is still draining when we try to remove it.
    const full = s.deployedConfig() as { backends: Record<string, unknown>[] };
    full.backends = full.backends.map((b) => (b.name === 'c' ? { ...b, quota_bytes: 1 } : b));
    expect((await s.admin('POST', '/admin/api/config/versions', { yaml: stringify(full) })).status).toBe(201);
    await s.admin('POST', '/admin/api/backends/a/drain');
    const refused = await cli('admin', 'remove-backend', 'a');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('backend a is draining; cancel the drain first (admin drain-cancel a) (HTTP 409)');
    expect((await cli('admin', 'drain-cancel', 'a')).code).toBe(0);
    expect((await s.admin('POST', '/admin/api/config/versions', { yaml: stringify(s.deployedConfig()) })).status).toBe(201);
    expect(await read('drain/probe.txt')).toBe('stays');
  });

  it('previews a purge, refuses bad, foreign and reused tokens, then purges with --confirm', async () => {
    for (const key of ['p/1', 'p/2', 'p/3', 'kept']) await put(key, `body of ${key}`);
    await s.addReplica('kept', 'a', 'c');
    const preview = await cli('admin', 'remove-backend', 'a', '--purge');
    expect(preview.code).toBe(0);
    expect(preview.out).toMatch(/a: a purge would delete 5 objects \(\d+ B\) from its storage and drop its records\. Nothing changed/);
    expect(await read('p/1')).toBe('body of p/1');

    const issued = await s.admin('DELETE', '/admin/api/backends/a?purge=true');
    const token = String(issued.body.confirm_token);
    expect(issued.body).toMatchObject({ status: 'confirmation required', object_count: 5, expires_in: 60 });
    const foreign = await s.admin('DELETE', `/admin/api/backends/c?purge=true&confirm=${encodeURIComponent(token)}`);
    expect(foreign).toEqual({ status: 403, body: { error: 'the confirmation token is for backend a, not c' } });
    // Garbage and a foreign token get different answers.
    const garbage = await s.admin('DELETE', '/admin/api/backends/a?purge=true&confirm=not-a-token');
    expect(garbage).toEqual({ status: 403, body: { error: 'the confirmation token is malformed (not one --purge issued); get a new one with --purge' } });
    const [payload, signature] = token.split('.');
    const altered = `${payload}.${signature?.slice(0, -2)}AA`;
    expect((await s.admin('DELETE', `/admin/api/backends/a?purge=true&confirm=${encodeURIComponent(altered)}`)).body.error).toContain('not valid for this backend (altered');
    expect((await s.admin('DELETE', '/admin/api/backends/a?confirm=x')).status).toBe(400);
    expect(await read('p/1')).toBe('body of p/1');

    // A second token, taken while a still has records: used after the purge, it finds nothing to purge.
    const once = String((await s.admin('DELETE', '/admin/api/backends/a?purge=true')).body.confirm_token);
    const purged = await cli('admin', 'remove-backend', 'a', '--purge', '--confirm');
    expect(purged.err).toBe('');
    expect(purged.out).toContain('a: purged; 5 objects deleted, 5 records dropped.');
    expect(await s.backendKeys('a')).toEqual([]);
    expect(await read('kept')).toBe('body of kept');
    expect((await s3Failure(read('p/1'))).code).toBe('NoSuchKey');
    // Purging (or removing) a removed backend is refused, not a silent success; and a token works once.
    const late = await s.admin('DELETE', `/admin/api/backends/a?purge=true&confirm=${encodeURIComponent(once)}`);
    expect(late.status).toBe(409);
    expect(String(late.body.error)).toContain('backend a was already removed');
    const reused = await s.admin('DELETE', `/admin/api/backends/a?purge=true&confirm=${encodeURIComponent(once)}`);
    expect(reused).toEqual({ status: 403, body: { error: 'the confirmation token was already used' } });
    const again = await cli('admin', 'remove-backend', 'a', '--purge', '--confirm');
    expect(again.code).toBe(1);
    expect(again.err).toContain('backend a was already removed');
    expect((await cli('admin', 'remove-backend', 'a')).err).toContain('backend a was already removed');

    // Removed stays out of placement while it is configured, even after the cron re-syncs quota limits; and the
    // cron's jobs keep working for it (the usage its purge counted has no rows to go to any more).
    await fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());
    await fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());
    await new Promise((r) => setTimeout(r, 500));
    expect(s.logs().filter((l) => l.msg === 'background job failed')).toEqual([]);
    await put('after/removal', 'elsewhere');
    expect(await s.query("select backend_name from object_locations where key = 'after/removal'")).toEqual([{ backend_name: 'c' }]);
    const status = await cli('admin', 'status');
    // A removed backend has no limit (it takes nothing): '-' in the table, null limit and 0 available in JSON.
    expect(status.out).toMatch(/\na\s+0 B\s+-\s+.*removed/);
    const asJson = JSON.parse((await cli('admin', 'status', '--json')).out) as { backends: { name: string; bytes_limit: number | null; bytes_available: number }[] };
    expect(asJson.backends.find((b) => b.name === 'a')).toMatchObject({ bytes_limit: null, bytes_available: 0 });
    expect(await metricsText()).toMatch(/^s3o_quota_bytes_available\{backend="a"\} 0$/m);
    await s.expectExactAccounting();
  });

  it('a purge whose deletes partly fail says what succeeded first, then what did not, and exits 1', async () => {
    for (const key of ['q/1', 'q/2']) {
      await put(key, `body of ${key}`);
      await s.addReplica(key, 'c', 'b');
    }
    s.fault('b').setMode('fail', 0, { methods: ['DELETE'], times: 1 });
    const purged = await cli('admin', 'remove-backend', 'b', '--purge', '--confirm');
    s.fault('b').setMode('pass');
    expect(purged.code).toBe(1);
    expect(purged.out).toContain('b: removed; 2 records dropped and 1 objects deleted from its storage.');
    expect(purged.out).toContain("1 of 2 deletes failed (see the Worker's log): those objects are still on the backend's storage, untracked.");
    expect(s.logs()).toContainEqual(expect.objectContaining({ msg: 'purge could not delete an object', backend: 'b' }));
    expect(await s.backendKeys('b')).toHaveLength(1);
    // The other copies serve on.
    expect(await read('q/1')).toBe('body of q/1');
    expect(await read('q/2')).toBe('body of q/2');
    const asJson = await cli('admin', 'remove-backend', 'b', '--purge', '--confirm', '--json');
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.out)).toMatchObject({ error: expect.stringContaining('backend b was already removed') });
  });

  it('without --purge drops the records and leaves the objects on the backend', async () => {
    const before = (await s.backendKeys('c')).length;
    expect(before).toBeGreaterThan(0);
    const removed = await cli('admin', 'remove-backend', 'c');
    expect(removed.code).toBe(0);
    expect(removed.out).toMatch(/c: removed; \d+ copy records \(.*\) dropped, the objects stay on its storage/);
    expect(await s.backendKeys('c')).toHaveLength(before);
    expect((await s3Failure(read('after/removal'))).code).toBe('NoSuchKey');
    expect(await s.query("select count(*)::int as n from object_locations where backend_name = 'c'")).toEqual([{ n: 0 }]);
    expect((await cli('admin', 'remove-backend')).code).toBe(2);
    expect((await cli('admin', 'remove-backend', 'c', '--confirm')).code).toBe(2);
  });

  it('adding a backend: eligible after the deploy, with its quota limit synced', async () => {
    // A new bucket on the same radosgw plays the new provider.
    const rgw = s.backend('a');
    const endpoint = new URL(rgw.base).origin;
    const bucket = `s3o-remove-d-${Date.now()}`;
    expect((await rgw.aws.fetch(`${endpoint}/${bucket}`, { method: 'PUT' })).ok).toBe(true);
    const doc = s.deployedConfig() as { backends: Record<string, unknown>[] };
    const template = doc.backends.find((b) => b.name === 'a') ?? {};
    doc.backends.push({ ...template, name: 'd', bucket, quota_bytes: 1024 ** 3 });
    await s.redeploy(stringify(doc));
    expect(await s.query("select bytes_limit from backend_quotas where backend_name = 'd'")).toEqual([{ bytes_limit: String(1024 ** 3) }]);
    // a, b and c are removed: the new backend takes the next object.
    await put('after/adding', 'on the new backend');
    expect(await s.query("select backend_name from object_locations where key = 'after/adding'")).toEqual([{ backend_name: 'd' }]);
    expect(await read('after/adding')).toBe('on the new backend');
  });

  it('refuses a confirmation token after 60 seconds', async () => {
    const issued = await s.admin('DELETE', '/admin/api/backends/d?purge=true');
    const token = String(issued.body.confirm_token);
    await new Promise((r) => setTimeout(r, 61_000));
    const late = await s.admin('DELETE', `/admin/api/backends/d?purge=true&confirm=${encodeURIComponent(token)}`);
    expect(late).toEqual({ status: 403, body: { error: 'the confirmation token has expired (they last 60 s); get a new one with --purge' } });
  }, 90_000);

  it('a backend taken out of the configuration without a drain: 503 for its objects, warned at start and in status', async () => {
    const doc = s.deployedConfig() as { backends: Record<string, unknown>[] };
    doc.backends = doc.backends.filter((b) => b.name !== 'd');
    await s.redeploy(stringify(doc));
    const failure = await s3Failure(s.client(undefined, { maxAttempts: 1 }).send(new GetObjectCommand({ Bucket: s.bucket, Key: 'after/adding' })));
    expect(failure).toEqual({ code: 'ServiceUnavailable', status: 503 });
    const status = await cli('admin', 'status');
    expect(status.out).toContain('warning: 1 copies are recorded on d, which is not in the configuration');
    expect(s.logs()).toContainEqual(
      expect.objectContaining({ msg: 'copies are recorded on a backend that is not in the configuration; objects with no other copy answer 503', backend: 'd', copies: 1 }),
    );
  });
});
