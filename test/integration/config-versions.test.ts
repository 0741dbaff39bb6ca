/**
 * Configuration versions in KV against the real Worker (wrangler dev, local KV): push, show, diff, history,
 * rollback through the CLI and the API; reloadable settings applied at once, deploy-only ones only after a
 * (local) deploy; invalid documents refused whole; a hand-written invalid KV record ignored; the seed's
 * zero-downtime credential rotation.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { versionKey } from '../../src/config/versions.ts';
import { s3Failure } from '../support/s3-errors.ts';
import { cliFor } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'config-test-admin-token-0123';
const dir = mkdtempSync(join(tmpdir(), 's3o-config-'));
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    name: 'configver',
    admin: { token: TOKEN },
    captureLogs: true,
    backends: [{ name: 'rgw', kind: 'radosgw', quotaBytes: 1024 ** 3 }],
  });
});

afterAll(async () => {
  await stack?.stop();
});

const cli = cliFor(() => stack.endpoint, TOKEN);

type Doc = Record<string, unknown> & {
  server: Record<string, unknown>;
  buckets: { name: string; credentials: { access_key_id: string; secret_access_key: string }[] }[];
  backends: Record<string, unknown>[];
};

function deployed(): Doc {
  return stack.deployedConfig() as Doc;
}

function writeDoc(name: string, doc: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof doc === 'string' ? doc : stringify(doc));
  return file;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - started;
}

const put = (creds: TestStack['credentials'][number], key: string, body: string | Uint8Array) =>
  stack.client(creds).send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));

async function works(creds: TestStack['credentials'][number]): Promise<boolean> {
  try {
    await stack.client(creds).send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'probe.txt' }));
    return true;
  } catch (err) {
    if ((err as { name?: string }).name === 'NotFound') return true;
    return false;
  }
}

describe('config push, show, diff, history', () => {
  it('applies reloadable settings at once, reports deploy-only ones, and a deploy applies those', async () => {
    await put(stack.credentials[0]!, 'probe.txt', 'probe');
    const doc = deployed();
    doc.server = { ...doc.server, log_level: 'info', max_object_size: 1000 };
    doc.routing_strategy = 'spread';
    doc.backends = doc.backends.map((b) => ({ ...b, quota_bytes: 2 * 1024 ** 3 }));
    const file = writeDoc('reload.yaml', doc);

    const diff = await cli('config', 'diff', file);
    expect(diff.code).toBe(0);
    expect(diff.out).toContain('against the deployed document:');
    expect(diff.out).toMatch(/server\.log_level\s+warn -> info\s+reloads/);
    expect(diff.out).toMatch(/backends\[rgw\]\.quota_bytes\s+1073741824 -> 2147483648\s+reloads/);
    expect(diff.out).toMatch(/routing_strategy\s+pack -> spread\s+requires deploy/);
    expect(diff.out).toMatch(/server\.max_object_size\s+5368709120 -> 1000\s+requires deploy/);
    expect((await cli('config', 'history')).out).toContain('no versions yet');

    const pushed = await cli('config', 'push', file, '--note', 'raise quota');
    expect(pushed.err).toBe('');
    expect(pushed.code).toBe(0);
    // Version 1 records the deployed document, so there is always something to roll back to.
    expect(pushed.out).toContain('version 2 is active');
    expect(pushed.out).toMatch(/backends\[rgw\]\.quota_bytes\s+1073741824 -> 2147483648\s+reloads/);
    expect(pushed.out).toContain('requires deploy to take effect');
    expect(pushed.out).toContain('routing_strategy (changed)');
    expect(pushed.out).toContain('server.max_object_size (changed)');

    // Quota limits are re-synced as the version activates.
    expect(await stack.query('select bytes_limit from backend_quotas')).toEqual([{ bytes_limit: String(2 * 1024 ** 3) }]);
    // The deploy-only limit has not changed: a 2000-byte object still fits.
    await put(stack.credentials[0]!, 'big-enough.bin', new Uint8Array(2000));

    const logs = () => stack.logs().filter((l) => l.component === 'config');
    await until('reload logs', async () => logs().some((l) => l.msg === 'Configuration reload complete'));
    expect(logs()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 'INFO', msg: 'Config reload received', version: 2, source: 'push' }),
        expect.objectContaining({ msg: 'Config section reloaded', section: 'server.log_level' }),
        expect.objectContaining({ msg: 'Config section reloaded', section: 'backends.quota_bytes', fields: ['backends[rgw].quota_bytes'] }),
        expect.objectContaining({ level: 'WARN', msg: 'Config field changed but requires deploy to take effect', field: 'routing_strategy' }),
        expect.objectContaining({ level: 'WARN', msg: 'Config field changed but requires deploy to take effect', field: 'server.max_object_size' }),
        expect.objectContaining({ level: 'INFO', msg: 'Configuration reload complete', version: 2 }),
      ]),
    );

    const show = await cli('config', 'show');
    expect(show.code).toBe(0);
    expect(show.out).toMatch(/^# version 2: push by development token at \S+ \(raise quota\); secrets masked/);
    expect(show.out).toContain('secret_access_key: ${RGW_SECRET_KEY}');
    expect(show.out).not.toContain('itest-writer-secret');
    expect(show.out).not.toContain(TOKEN);
    expect(show.out).toContain('# requires deploy to take effect');
    const history = await cli('config', 'history');
    expect(history.out).toMatch(/^VERSION\s+CREATED\s+SOURCE\s+BY\s+NOTE/);
    expect(history.out).toMatch(/\n2 \*\s+\S+\s+push\s+development token\s+raise quota/);
    expect(history.out).toMatch(/\n1\s+\S+\s+deploy\s+deploy\s+deployed document/);
    const again = await cli('config', 'push', file);
    expect(again.out).toContain('no change: version 2 already holds this document');

    // A deploy with the pushed document applies the deploy-only settings.
    await stack.redeploy(stringify(doc));
    const tooBig = await s3Failure(put(stack.credentials[0]!, 'too-big.bin', new Uint8Array(2000)));
    expect(tooBig.code).toBe('EntityTooLarge');
    const after = await stack.admin('GET', '/admin/api/config');
    expect(after.body).toMatchObject({ version: 2, requires_deploy: [] });
  });

  it('refuses an invalid document whole, locally and on the server, and keeps the active version', async () => {
    const before = await stack.admin('GET', '/admin/api/config');
    const bad = writeDoc('bad.yaml', 'routing_strategy: random\nbuckets: []\nbackends: []\n');
    const local = await cli('config', 'push', bad);
    expect(local.code).toBe(1);
    expect(local.err).toContain('invalid, 3 problem(s); nothing was sent');
    expect(local.err).toContain('routing_strategy: must be one of pack, spread, got "random"');

    // Valid here, where ${UNSET_SECRET} may be a Worker secret; the Worker has no such variable and says so.
    const doc = deployed();
    doc.buckets[0]!.credentials.push({ access_key_id: 'another-key', secret_access_key: '${UNSET_SECRET}' });
    const server = await cli('config', 'push', writeDoc('unset.yaml', doc));
    expect(server.code).toBe(1);
    expect(server.err).toContain('the server refused: the configuration is invalid; nothing changed (HTTP 400)');
    expect(server.err).toContain('buckets[0].credentials[2].secret_access_key: ${UNSET_SECRET} is not set');
    expect(await stack.admin('GET', '/admin/api/config')).toEqual(before);

    for (const [body, message] of [
      ['not json', 'the body is not JSON'],
      [JSON.stringify({ note: 'no yaml' }), '"yaml" must hold the configuration document'],
      [JSON.stringify({ yaml: 'a: 1', note: 'x'.repeat(201) }), 'note must be a string of at most 200 characters'],
    ] as const) {
      const response = await fetch(`${stack.endpoint}/admin/api/config/versions`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toContain(message);
    }
    expect((await stack.admin('POST', '/admin/api/config/rollback', { version: 99 })).status).toBe(404);
    expect((await stack.admin('POST', '/admin/api/config/rollback', { version: 'two' })).status).toBe(400);
    const noVersion = await cli('config', 'rollback', 'latest');
    expect(noVersion.code).toBe(2);
    expect(noVersion.err).toContain('config rollback needs a version number N');
    expect((await fetch(`${stack.endpoint}/admin/api/config`)).status).toBe(401);
    expect(await stack.admin('GET', '/admin/api/config')).toEqual(before);
  });

  it('rolls back to an earlier version as a new version', async () => {
    const rolled = await cli('config', 'rollback', '1');
    expect(rolled.code).toBe(0);
    expect(rolled.out).toContain('version 3 is active');
    expect(rolled.out).toMatch(/server\.log_level\s+info -> warn\s+reloads/);
    const history = await cli('config', 'history', '--json');
    const versions = (JSON.parse(history.out) as { versions: { version: number; source: string; rolled_back_from?: number }[] }).versions;
    expect(versions[0]).toMatchObject({ version: 3, source: 'rollback', rolled_back_from: 1 });
    expect(await stack.query('select bytes_limit from backend_quotas')).toEqual([{ bytes_limit: String(1024 ** 3) }]);
  });
});

describe('a configuration record written into KV by hand', () => {
  it('is ignored when invalid (last valid version kept, error logged), and followed within the bound when valid', async () => {
    const active = await stack.admin('GET', '/admin/api/config');
    const writtenAt = Date.now();
    await stack.kv.put('config/active', 'routing_strategy: spread # YAML where a version record belongs');
    // Isolates look at KV as requests arrive; keep requests coming, as clients would.
    await until('the reload failure log', async () => (await works(stack.credentials[0]!)) && stack.logs().some((l) => l.msg === 'Config reload failed, keeping current config' && Number(new Date(String(l.time))) >= writtenAt - 1000), 20_000);
    expect(await works(stack.credentials[0]!)).toBe(true);
    expect(await stack.admin('GET', '/admin/api/config')).toEqual(active);

    // A fresh isolate has nothing to keep: it takes the newest valid version from the history.
    await stack.restart();
    expect(await works(stack.credentials[0]!)).toBe(true);
    expect(await stack.admin('GET', '/admin/api/config')).toEqual(active);
    expect(stack.logs()).toContainEqual(expect.objectContaining({ msg: 'Config reload failed, keeping current config', kept_version: 3 }));

    // Pushing the document the fleet runs again repairs the broken record (it is not "no change").
    const kept = JSON.parse((await stack.kv.get(versionKey(3))) ?? '{}') as { yaml: string };
    const repaired = await stack.admin('POST', '/admin/api/config/versions', { yaml: kept.yaml });
    expect(repaired.status).toBe(201);
    expect(repaired.body.unchanged).toBeUndefined();
    const record = JSON.parse((await stack.kv.get('config/active')) ?? '{}') as { version: number; yaml: string };
    expect(record).toMatchObject({ version: repaired.body.version, yaml: kept.yaml });
    expect((await stack.admin('POST', '/admin/api/config/versions', { yaml: kept.yaml })).body.unchanged).toBe(true);

    // A valid record written by hand (version 10, a new credential) is adopted within the refresh bound.
    const doc = deployed();
    const fresh = { accessKeyId: 'hand-written-key', secretAccessKey: 'hand-written-secret' };
    doc.buckets[0]!.credentials.push({ access_key_id: fresh.accessKeyId, secret_access_key: fresh.secretAccessKey });
    await stack.kv.put('config/active', JSON.stringify({ version: 10, yaml: stringify(doc), createdAt: new Date().toISOString(), source: 'push', by: 'hand' }));
    const waited = await until('the hand-written credential to work', () => works(fresh), 20_000);
    console.log(`hand-written KV version followed after ${waited} ms (bound: 5000 ms)`);
    // The bound is 5 s per isolate; requests on a busy machine add their own latency, so only a gross miss fails.
    expect(waited).toBeLessThan(15_000);
    expect((await stack.admin('GET', '/admin/api/config')).body).toMatchObject({ version: 10, by: 'hand' });
  });
});

describe('rotating client credentials (the seed procedure)', () => {
  it('adds the new credential, moves the client, removes the old one: no request in between fails', async () => {
    const old = stack.credentials[0]!;
    const next = { accessKeyId: 'itest-rotated', secretAccessKey: 'itest-rotated-secret' };
    let current = old;
    const failures: string[] = [];
    const served = new Map<string, number>();
    let running = true;
    const traffic = (async () => {
      for (let i = 0; running; i++) {
        const using = current;
        try {
          await put(using, `rotation/${i % 5}.txt`, `request ${i}`);
        } catch (err) {
          failures.push(`${using.accessKeyId}: ${String(err)}`);
        }
        served.set(using.accessKeyId, (served.get(using.accessKeyId) ?? 0) + 1);
      }
    })();
    // Counted, not timed: each phase lasts until the client has made a few requests in it, however slow the machine.
    const afterRequests = (accessKeyId: string, n: number) => until(`${n} requests with ${accessKeyId}`, async () => (served.get(accessKeyId) ?? 0) >= n, 60_000);

    await afterRequests(old.accessKeyId, 3);
    const both = deployed();
    both.buckets[0]!.credentials.push({ access_key_id: next.accessKeyId, secret_access_key: next.secretAccessKey });
    const added = await stack.admin('POST', '/admin/api/config/versions', { yaml: stringify(both) });
    expect(added.status).toBe(201);
    expect(added.body.changes).toContainEqual({ field: 'buckets[itest].credentials[itest-rotated]', change: 'added', effect: 'reloadable' });
    await until('the new credential to work', () => works(next), 60_000);
    expect(await works(old)).toBe(true);

    current = next;
    await afterRequests(next.accessKeyId, 3);
    const onlyNew = deployed();
    onlyNew.buckets[0]!.credentials = onlyNew.buckets[0]!.credentials.filter((c) => c.access_key_id !== old.accessKeyId);
    onlyNew.buckets[0]!.credentials.push({ access_key_id: next.accessKeyId, secret_access_key: next.secretAccessKey });
    const removed = await stack.admin('POST', '/admin/api/config/versions', { yaml: stringify(onlyNew) });
    expect(removed.status).toBe(201);
    await until('the old credential to be refused', async () => !(await works(old)), 60_000);
    const refused = await s3Failure(put(old, 'rotation/old.txt', 'x'));
    expect(refused.code).toBe('InvalidAccessKeyId');
    const beforeStop = served.get(next.accessKeyId) ?? 0;
    await afterRequests(next.accessKeyId, beforeStop + 3);
    running = false;
    await traffic;
    expect(failures).toEqual([]);
    await stack.expectExactAccounting();
  });
});

describe('admin object-locations', () => {
  it('shows where an object is stored, and says clearly when it is not', async () => {
    await put(stack.credentials[1]!, 'where/am-i.txt', 'located');
    const located = await cli('admin', 'object-locations', '-key', `${stack.bucket}/where/am-i.txt`);
    expect(located.code).toBe(0);
    expect(located.out).toMatch(/^itest\/where\/am-i\.txt {2}7 B {2}etag "[0-9a-f]{32}"/);
    expect(located.out).toMatch(/\nrgw\s+itest\/where\/am-i\.txt~\S+\s+7 B\s+\S+/);
    const asJson = JSON.parse((await cli('admin', 'object-locations', '-key', `${stack.bucket}/where/am-i.txt`, '--json')).out) as { locations: unknown[] };
    expect(asJson.locations).toHaveLength(1);
    const missing = await cli('admin', 'object-locations', '-key', `${stack.bucket}/nowhere.txt`);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('no object "nowhere.txt" in bucket "itest" (HTTP 404)');
    const badKey = await cli('admin', 'object-locations', '-key', 'no-slash');
    expect(badKey.code).toBe(1);
    expect(badKey.err).toContain('key must be "<bucket>/<object key>"');
    expect((await cli('admin', 'object-locations')).code).toBe(2);
  });
});
