/**
 * Draining a backend through its Durable Object (wrangler dev, real Postgres, radosgw and s3rver): copies move
 * off while clients keep writing, replicas are just dropped, a cancel stops it, a drain with no room waits, and a
 * restart mid-drain resumes it.
 */
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { DrainReport } from '../../src/backends/backend-state.ts';
import { cliFor } from '../support/cli.ts';
import { keyedBytes } from '../support/patterns.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'drain-test-admin-token-01234';
let stacks: TestStack[] = [];

afterEach(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
  stacks = [];
});

const SCRAPE_TOKEN = 'prometheus-scrape-token-0123';

async function stack(name: string, quotas: { b?: number; c?: number } = {}, faultyA = false): Promise<TestStack> {
  const started = await startTestStack({
    name,
    admin: { token: TOKEN },
    telemetry: { metrics: { token: SCRAPE_TOKEN } },
    strategy: 'pack',
    backends: [
      { name: 'a', kind: 'radosgw', faultProxy: faultyA },
      { name: 'b', kind: 'radosgw', ...(quotas.b !== undefined ? { quotaBytes: quotas.b } : {}) },
      { name: 'c', kind: 's3rver', ...(quotas.c !== undefined ? { quotaBytes: quotas.c } : {}) },
    ],
  });
  stacks.push(started);
  return started;
}

const cli = (target: TestStack, ...args: string[]) => cliFor(() => target.endpoint, TOKEN)(...args);

async function drainStatus(target: TestStack, backend = 'a'): Promise<DrainReport> {
  return (await target.admin('GET', `/admin/api/backends/${backend}/drain`)).body as unknown as DrainReport;
}

async function until<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function metrics(target: TestStack): Promise<string> {
  const response = await fetch(`${target.endpoint}/metrics`, { headers: { authorization: `Bearer ${SCRAPE_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain; version=0.0.4');
  return response.text();
}

/** Deterministic content per key and write, so every read can be checked byte for byte. */
const content = keyedBytes;

async function putAll(target: TestStack, objects: Map<string, Uint8Array | null>, keys: string[], size: (i: number) => number, round = 0): Promise<void> {
  const client = target.client();
  for (let i = 0; i < keys.length; i += 8) {
    await Promise.all(
      keys.slice(i, i + 8).map(async (key, j) => {
        const body = content(key, round, size(i + j));
        await client.send(new PutObjectCommand({ Bucket: target.bucket, Key: key, Body: body }));
        objects.set(key, body);
      }),
    );
  }
}

async function expectAllReadable(target: TestStack, objects: Map<string, Uint8Array | null>): Promise<void> {
  const client = target.client();
  for (const [key, expected] of objects) {
    if (expected === null) continue;
    const got = await client.send(new GetObjectCommand({ Bucket: target.bucket, Key: key }));
    const bytes = await got.Body?.transformToByteArray();
    expect(bytes?.length, key).toBe(expected.length);
    expect(Buffer.from(bytes ?? []).equals(Buffer.from(expected)), key).toBe(true);
  }
}

describe('admin drain', () => {
  it('moves every copy off while clients write, overwrite and delete; replicas are just dropped', async () => {
    const s = await stack('drain');
    const objects = new Map<string, Uint8Array | null>();
    const keys = Array.from({ length: 120 }, (_, i) => `obj/${String(i).padStart(4, '0')}`);
    await putAll(s, objects, keys, (i) => (i % 10 === 0 ? 3 * 1024 * 1024 + i : 1000 + i * 37));
    for (const key of keys.slice(0, 10)) await s.addReplica(key, 'a', 'c');
    expect(await s.backendKeys('a')).toHaveLength(120);

    const started = await cli(s, 'admin', 'drain', 'a');
    expect(started.err).toBe('');
    expect(started.out).toContain('a: drain started');
    expect(await metrics(s)).toContain('s3o_drain_active{backend="a"} 1');

    // Clients keep going: new objects, overwrites and deletes of objects being moved.
    const client = s.client();
    for (let round = 1; round <= 3; round++) {
      for (const key of keys.filter((_, i) => i % 7 === round)) {
        const body = content(key, round, 2000 + round);
        await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: body }));
        objects.set(key, body);
      }
      for (const key of keys.filter((_, i) => i % 11 === round)) {
        await client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: key }));
        objects.set(key, null);
      }
      await putAll(s, objects, [`new/${round}/x`, `new/${round}/y`], () => 4096, round);
    }

    const watched = await cli(s, 'admin', 'drain-status', 'a', '--watch');
    expect(watched.err).toBe('');
    expect(watched.code).toBe(0);
    expect(watched.out).toMatch(/\[#{30}\] 100%/);
    expect(watched.out.trim().endsWith('a: drained')).toBe(true);

    const status = await drainStatus(s);
    expect(status, status.last_error).toMatchObject({ mode: 'drained', active: false, objects_remaining: 0, failures: 0 });
    const scraped = await metrics(s);
    expect(scraped).toContain('s3o_drain_active{backend="a"} 0');
    expect(scraped).toContain(`s3o_drain_objects_moved_total{backend="a"} ${status.objects_moved}`);
    expect(scraped).toContain(`s3o_drain_bytes_moved_total{backend="a"} ${status.bytes_moved}`);
    expect(scraped).toContain('# TYPE s3o_drain_bytes_moved_total counter');
    expect(status.copies_dropped).toBeGreaterThanOrEqual(1);
    expect(await s.query("select count(*)::int as n from object_locations where backend_name = 'a'")).toEqual([{ n: 0 }]);
    expect(await s.query("select count(*)::int as n from backend_quotas where backend_name = 'a'")).toEqual([{ n: 0 }]);
    expect(await s.backendKeys('a')).toEqual([]);
    await expectAllReadable(s, objects);
    await s.expectExactAccounting();

    // Drained stays drained: no new copy lands there, not even after a cron run re-syncs quota limits.
    await fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());
    await putAll(s, objects, ['after/drain'], () => 10);
    expect(await s.query("select backend_name from object_locations where key = 'after/drain'")).not.toContainEqual({ backend_name: 'a' });
    const table = await cli(s, 'admin', 'status');
    // A drained backend has no limit any more (it takes nothing): '-' in the LIMIT column.
    expect(table.out).toMatch(/\na\s+0 B\s+-\s+0 B\s+0\s+.*drained/);
    const again = await cli(s, 'admin', 'drain', 'a');
    expect(again.code).toBe(1);
    expect(again.err).toContain('backend a is already drained');
  });

  it("deletes the sources in one DeleteObjects call that radosgw parses back to the keys sent, whatever they hold", async () => {
    const s = await stack('drainxml');
    const objects = new Map<string, Uint8Array | null>();
    // Markup, entities, CDATA's end, quotes, non-ASCII and runs of spaces go in the call's XML; a tab and a CR
    // (which an XML parser cannot hand back exactly) go one by one, by their URL.
    const inXml = ['x/a<b>&c', 'x/&amp;&#60;', 'x/]]>end', `x/"q'uote`, 'x/ünï©ødé 雪', 'x/  two  spaces +plus'];
    const oneByOne = ['x/tab\there', 'x/cr\rhere'];
    await putAll(s, objects, [...inXml, ...oneByOne], (i) => 100 + i);
    expect(await s.backendKeys('a')).toHaveLength(inXml.length + oneByOne.length);
    await s.admin('POST', '/admin/api/backends/a/drain');
    const status = await until('the drain to finish', async () => {
      const st = await drainStatus(s);
      return st.mode === 'drained' ? st : undefined;
    });
    expect(status, status.last_error).toMatchObject({ objects_remaining: 0, failures: 0 });
    expect(await s.backendKeys('a')).toEqual([]);
    const scraped = await metrics(s);
    // Had radosgw refused the XML or read other keys out of it, every source would have gone one by one.
    expect(scraped).toContain('s3o_backend_requests_total{operation="DeleteObjects",backend="a",status="success"} 1');
    expect(scraped).toContain(`s3o_backend_requests_total{operation="DeleteObject",backend="a",status="success"} ${oneByOne.length}`);
    expect(scraped).not.toMatch(/^s3o_backend_requests_total\{operation="DeleteObjects?",backend="a",status="error"\}/m);
    await expectAllReadable(s, objects);
    await s.expectExactAccounting();
  });

  it('cancels halfway: moved copies stay moved and the backend takes writes again', async () => {
    const s = await stack('draincancel', {}, true);
    const objects = new Map<string, Uint8Array | null>();
    await putAll(s, objects, Array.from({ length: 300 }, (_, i) => `k/${i}`), () => 512);
    // 30 copies read their source; after that, a's answers to reads wait: the drain is stuck halfway (one batch).
    s.fault('a').setMode('hold-answer', 0, { methods: ['GET'], after: 30 });
    await s.admin('POST', '/admin/api/backends/a/drain');
    await until('progress reported within the batch', async () => (await drainStatus(s)).objects_moved >= 20);
    await until('the drain to be stuck', async () => s.fault('a').held() >= 1);
    const cancelled = await cli(s, 'admin', 'drain-cancel', 'a');
    expect(cancelled.out).toContain('a: drain cancelled');
    // The copies under way finish; no other one starts.
    s.fault('a').setMode('pass');
    const status = await drainStatus(s);
    expect(status).toMatchObject({ mode: 'active', active: false });
    expect(status.objects_remaining).toBeGreaterThan(0);
    const moved = await s.query<{ n: number }>("select count(*)::int as n from object_locations where backend_name <> 'a'");
    expect(moved[0]?.n).toBeGreaterThanOrEqual(20);
    await putAll(s, objects, ['after/cancel'], () => 10);
    expect(await s.query("select backend_name from object_locations where key = 'after/cancel'")).toEqual([{ backend_name: 'a' }]);
    await expectAllReadable(s, objects);
    await s.expectExactAccounting();
    expect((await fetch(`${s.endpoint}/metrics`)).status).toBe(401);
    expect((await fetch(`${s.endpoint}/metrics`, { headers: { authorization: 'Bearer wrong-scrape-token-000' } })).status).toBe(403);
    expect((await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
    const notDraining = await cli(s, 'admin', 'drain-cancel', 'a');
    expect(notDraining.code).toBe(1);
    expect(notDraining.err).toContain('backend a is not draining (HTTP 409)');
    const unknown = await cli(s, 'admin', 'drain', 'nope');
    expect(unknown.err).toContain('no backend "nope" in the configuration (HTTP 404)');
    expect((await cli(s, 'admin', 'drain')).code).toBe(2);
  });

  it('waits without spinning when no other backend has room, and finishes once there is room', async () => {
    const s = await stack('drainfull', { b: 1, c: 1 });
    const objects = new Map<string, Uint8Array | null>();
    await putAll(s, objects, ['x/1', 'x/2', 'x/3'], () => 4096);
    await s.admin('POST', '/admin/api/backends/a/drain');
    const waiting = await until('the drain to wait for room', async () => {
      const st = await drainStatus(s);
      return st.waiting_for_space ? st : undefined;
    });
    expect(waiting).toMatchObject({ mode: 'draining', objects_remaining: 3 });
    expect(waiting.last_error).toContain('no active backend has room for 4096 bytes');
    // --watch says what the drain waits for, and gives up with exit 3 when nothing changes for --stuck-after.
    const watched = await cli(s, 'admin', 'drain-status', 'a', '--watch', '--stuck-after', '3');
    expect(watched.code).toBe(3);
    expect(watched.out).toContain('waiting for room on another backend (last error: no active backend has room for 4096 bytes');
    expect(watched.err).toContain('a: the drain made no progress for 3 s (waiting for room on another backend');
    expect((await cli(s, 'admin', 'drain-status', 'a', '--watch', '--stuck-after', 'soon')).code).toBe(2);
    // Waiting means a pause between passes, not a busy loop: failures stop growing.
    const failures = (await drainStatus(s)).failures;
    await new Promise((r) => setTimeout(r, 3000));
    expect((await drainStatus(s)).failures).toBe(failures);

    const roomy = s.deployedConfig() as { backends: { name: string; quota_bytes?: number }[] };
    roomy.backends = roomy.backends.map((b) => (b.name === 'c' ? { ...b, quota_bytes: 1024 ** 3 } : b));
    expect((await s.admin('POST', '/admin/api/config/versions', { yaml: stringify(roomy) })).status).toBe(201);
    const retried = await cli(s, 'admin', 'drain', 'a');
    expect(retried.out).toContain('already draining; retrying now');
    await until('the drain to finish', async () => (await drainStatus(s)).mode === 'drained');
    await expectAllReadable(s, objects);
    await s.expectExactAccounting();
  });

  it('survives a restart in the middle of a drain', async () => {
    const s = await stack('drainrestart');
    const objects = new Map<string, Uint8Array | null>();
    await putAll(s, objects, Array.from({ length: 200 }, (_, i) => `r/${i}`), (i) => 300 + i);
    await s.admin('POST', '/admin/api/backends/a/drain');
    await until('some progress', async () => (await drainStatus(s)).objects_moved >= 10);
    await s.restart();
    await until('the drain to finish after the restart', async () => (await drainStatus(s)).mode === 'drained', 120_000);
    const status = await drainStatus(s);
    expect(status.objects_remaining).toBe(0);
    expect(await s.backendKeys('a')).toEqual([]);
    await expectAllReadable(s, objects);
    await s.expectExactAccounting();
  });

  it('a restart between the record swap and the source delete leaves no stray bytes on the drained backend', async () => {
    const s = await stack('drainswap', {}, true);
    const objects = new Map<string, Uint8Array | null>();
    await putAll(s, objects, ['w/moved-1', 'w/moved-2', 'w/replicated'], () => 5000);
    await s.addReplica('w/replicated', 'a', 'b');
    const requestsOnA = async () => {
      const status = (await s.admin('GET', '/admin/api/status')).body as { backends: { name: string; usage: { api_requests: number } }[] };
      return status.backends.find((b) => b.name === 'a')?.usage.api_requests ?? 0;
    };
    const before = await until('the three PUTs to be counted', async () => {
      const n = await requestsOnA();
      return n >= 3 ? n : undefined;
    });
    // Backend a never answers a delete (DeleteObject, or DeleteObjects, a POST): every move and drop stops right
    // after its database change commits.
    s.fault('a').setMode('hold', 0, { methods: ['DELETE', 'POST'] });
    await s.admin('POST', '/admin/api/backends/a/drain');
    await until('a source delete in flight', async () => s.fault('a').held() >= 1);
    await s.restart();
    // Deletes now fail: the drain must not end (its rows would forget the queued deletes), it says why and waits.
    s.fault('a').setMode('fail', 0, { methods: ['DELETE', 'POST'] });
    const stuck = await until('the drain to report deletes it cannot do', async () => {
      const st = await drainStatus(s);
      return st.last_error?.includes('queued deletes on a still fail') ? st : undefined;
    });
    expect(stuck).toMatchObject({ mode: 'draining', objects_remaining: 0 });
    expect(stuck.deletes_queued).toBeGreaterThanOrEqual(1);
    expect((await cli(s, 'admin', 'drain-status', 'a')).out).toMatch(/remaining {2}0 objects, 0 B; \d+ deletes on it still queued/);
    s.fault('a').setMode('pass');
    expect((await cli(s, 'admin', 'drain', 'a')).out).toContain('already draining; retrying now');
    await until('the drain to finish after the restart', async () => (await drainStatus(s)).mode === 'drained');
    // The failed attempts were all retried until they succeeded: they are not failures of the finished drain.
    const finished = await drainStatus(s);
    expect(finished.failures).toBe(0);
    expect(finished.failed_attempts_retried).toBeGreaterThanOrEqual(1);
    expect((await cli(s, 'admin', 'drain-status', 'a')).out).toMatch(/failures {3}0 \(\d+ failed attempts were retried until they succeeded\)/);
    expect(await s.backendKeys('a')).toEqual([]);
    expect(await s.query("select * from cleanup_queue where backend_name = 'a'")).toEqual([]);
    // The drain's own calls on a (two GETs and the deletes, made inside a's Durable Object) count as usage.
    expect(await requestsOnA()).toBeGreaterThanOrEqual(before + 3);
    await expectAllReadable(s, objects);
    await s.expectExactAccounting();
  });
});

describe('draining a backend that cannot abort multipart uploads (s3rver, as on the local stack)', () => {
  it('settles the open upload (its client gets NoSuchUpload) and finishes', async () => {
    const s = await startTestStack({
      name: 'drainnoabort',
      admin: { token: TOKEN },
      strategy: 'pack',
      captureLogs: true,
      backends: [
        { name: 'a', kind: 's3rver' },
        { name: 'b', kind: 's3rver' },
      ],
    });
    stacks.push(s);
    const client = s.client();
    await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: 'moved.txt', Body: 'moves to b' }));
    const upload = await client.send(new CreateMultipartUploadCommand({ Bucket: s.bucket, Key: 'open-upload.bin' }));
    await client.send(new UploadPartCommand({ Bucket: s.bucket, Key: 'open-upload.bin', UploadId: upload.UploadId, PartNumber: 1, Body: new Uint8Array(1024) }));
    expect((await s.admin('POST', '/admin/api/backends/a/drain')).status).toBe(202);
    const done = await until('the drain to finish', async () => {
      const report = await drainStatus(s);
      return report.mode === 'drained' ? report : undefined;
    });
    expect(done).toMatchObject({ objects_remaining: 0 });
    const read = await client.send(new GetObjectCommand({ Bucket: s.bucket, Key: 'moved.txt' }));
    expect(await read.Body?.transformToString()).toBe('moves to b');
    const gone = await client.send(new ListMultipartUploadsCommand({ Bucket: s.bucket }));
    expect(gone.Uploads ?? []).toEqual([]);
    expect(s.logs().some((l) => l.msg === 'backend cannot abort multipart uploads; upload dropped, its parts stay on the backend')).toBe(true);
    await s.expectExactAccounting();
  });
});
