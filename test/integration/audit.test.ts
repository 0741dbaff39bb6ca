/**
 * The audit trail against the real Worker (wrangler dev, its log lines captured): one record per S3 data mutation
 * carrying the response's x-amz-request-id, one per admin action carrying its actor; the fleet's ring of admin
 * events through `GET /admin/api/events` and the real CLI's `admin events`; the count in /metrics.
 * Records reach the logs, the ring and the counter after the answer (never awaited), so each check waits for them.
 */
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { cliFor, stackCliEnv, startCli } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'audit-test-admin-token-0123';
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    name: 'audit',
    admin: { token: TOKEN },
    captureLogs: true,
    backends: [
      { name: 'first', kind: 's3rver', quotaBytes: 1024 ** 3 },
      { name: 'second', kind: 's3rver', quotaBytes: 1024 ** 3 },
    ],
  });
});

afterAll(async () => {
  await stack?.stop();
});

const cli = cliFor(() => stack.endpoint, TOKEN);
/** Generous: the suite runs on a busy 2-core machine; a check passes as soon as its records are there. */
const PATIENCE = { timeout: 60_000, interval: 200 };

type AuditLine = { msg: string; audit: boolean; event: string; request_id: string; actor: string; params: Record<string, unknown>; status: number; outcome: string };

const audits = () => stack.logs().filter((l) => l.audit === true) as unknown as AuditLine[];
const auditOf = (requestId: string | undefined) => audits().filter((l) => l.request_id === requestId);

describe('S3 data mutations', () => {
  it('write one audit record each, with the request id of the response, the access key id and what changed', async () => {
    const s3 = stack.client();
    const bucket = stack.bucket;
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a.txt', Body: 'hello audit' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'b.txt', Body: 'b' }));
    const deleted = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a.txt' }));
    const batch = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'b.txt' }, { Key: 'never-was.txt' }] } }));
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'm.bin' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'm.bin', UploadId: created.UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
    const completed = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'm.bin', UploadId: created.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
    );
    const ids = [put, deleted, batch, created, part, completed].map((r) => r.$metadata.requestId);
    expect(new Set(ids).size).toBe(ids.length);
    await vi.waitFor(() => expect(ids.map((id) => auditOf(id).length)).toEqual(ids.map(() => 1)), PATIENCE);

    const actor = stack.credentials[0]!.accessKeyId;
    const common = { msg: 'audit', audit: true, actor, outcome: 'success' };
    expect(auditOf(ids[0])[0]).toMatchObject({ ...common, event: 's3.PutObject', status: 200, params: { bucket, key: 'a.txt', size: 11, etag: put.ETag } });
    expect(auditOf(ids[1])[0]).toMatchObject({ ...common, event: 's3.DeleteObject', status: 204, params: { bucket, key: 'a.txt' } });
    expect(auditOf(ids[2])[0]).toMatchObject({ ...common, event: 's3.DeleteObjects', status: 200, params: { bucket, count: 2, errors: 0 } });
    expect(auditOf(ids[3])[0]).toMatchObject({ ...common, event: 's3.CreateMultipartUpload', params: { bucket, key: 'm.bin', upload_id: created.UploadId } });
    expect(auditOf(ids[4])[0]).toMatchObject({ ...common, event: 's3.UploadPart', params: { upload_id: created.UploadId, part_number: 1, size: 1024 } });
    expect(auditOf(ids[5])[0]).toMatchObject({ ...common, event: 's3.CompleteMultipartUpload', params: { bucket, key: 'm.bin', upload_id: created.UploadId, etag: completed.ETag } });
    // Reads are not audited, and no record names the client's secret.
    expect(audits().filter((l) => !l.event.startsWith('s3.') && !l.event.startsWith('admin.'))).toEqual([]);
    expect(JSON.stringify(audits())).not.toContain(stack.credentials[0]!.secretAccessKey);
  });
});

describe('admin actions', () => {
  it('write one audit record each naming the development token, kept in order in the fleet ring, shown by the CLI', async () => {
    const before = await stack.admin('GET', '/admin/api/events?limit=1');
    expect(before.status).toBe(200);
    const after = before.body.last as number;

    expect((await stack.admin('POST', '/admin/api/backends/second/drain')).status).toBe(202);
    expect((await stack.admin('DELETE', '/admin/api/backends/second/drain')).status).toBe(200);
    const doc = stack.deployedConfig() as { backends: Record<string, unknown>[] };
    doc.backends = doc.backends.map((b) => ({ ...b, quota_bytes: 2 * 1024 ** 3 }));
    const pushed = await stack.admin('POST', '/admin/api/config/versions', { yaml: stringify(doc), note: 'raise quotas' });
    expect(pushed.status).toBe(201);
    expect((await stack.admin('PUT', '/admin/api/log-level', { level: 'debug' })).status).toBe(200);
    expect((await stack.admin('PUT', '/admin/api/log-level', { level: 'loud' })).status).toBe(400);

    const expected = [
      { event: 'admin.drain', params: { backend: 'second' }, status: 202, outcome: 'success' },
      { event: 'admin.drain_cancel', params: { backend: 'second' }, status: 200, outcome: 'success' },
      {
        event: 'admin.config.push',
        params: { version: pushed.body.version, changed: ['backends[first].quota_bytes', 'backends[second].quota_bytes'], requires_deploy: [] },
        status: 201,
        outcome: 'success',
      },
      { event: 'admin.log_level', params: { level: 'debug' }, status: 200, outcome: 'success' },
      { event: 'admin.log_level', params: { level: 'loud' }, status: 400, outcome: 'refused' },
    ].map((e) => ({ ...e, actor: 'development token' }));

    // The log lines.
    await vi.waitFor(() => expect(audits().filter((l) => l.event.startsWith('admin.')).length).toBe(expected.length), PATIENCE);
    expect(audits().filter((l) => l.event.startsWith('admin.'))).toEqual(expected.map((e) => expect.objectContaining({ ...e, msg: 'audit', audit: true })));
    expect(JSON.stringify(audits())).not.toContain(TOKEN);

    // The ring, oldest first after the sequence number read before.
    const ring = await vi.waitFor(async () => {
      const page = await stack.admin('GET', `/admin/api/events?after=${after}`);
      expect((page.body.events as unknown[]).length).toBe(expected.length);
      return page.body as { events: { seq: number; request_id: string }[]; last: number };
    }, PATIENCE);
    expect(ring.events).toEqual(expected.map((e) => expect.objectContaining(e)));
    expect(ring.events.map((e) => e.seq)).toEqual(expected.map((_, i) => after + 1 + i));
    expect(ring.last).toBe(after + expected.length);
    const logged = audits().filter((l) => l.event.startsWith('admin.')).map((l) => l.request_id);
    expect(ring.events.map((e) => e.request_id)).toEqual(logged);
    expect((await stack.admin('GET', `/admin/api/events?after=${ring.last}`)).body).toEqual({ events: [], last: ring.last });

    // The real CLI: one line per event, in order, with time, actor, event, parameters and result.
    const shown = await cli('admin', 'events', '--limit', String(expected.length));
    expect(shown).toMatchObject({ code: 0, err: '' });
    const lines = shown.out.trim().split('\n');
    expect(lines).toHaveLength(expected.length);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z {2}development token {2}admin\.drain {2}backend=second {2}202 success$/);
    expect(lines[2]).toMatch(/ {2}admin\.config\.push {2}version=\d+ {2}changed=backends\[first\]\.quota_bytes,backends\[second\]\.quota_bytes {2}.*201 success$/);
    expect(lines[4]).toMatch(/ {2}admin\.log_level {2}level=loud {2}400 refused$/);
    const asJson = await cli('admin', 'events', '--limit', '2', '--json');
    expect(JSON.parse(asJson.out)).toMatchObject({ events: [{ event: 'admin.log_level' }, { event: 'admin.log_level' }], last: ring.last });
  });

  it('follows new admin events with admin events --follow until interrupted', async () => {
    // The earlier tests left events in the ring, so the first page has a line: the follower is then polling.
    const follower = startCli(['admin', 'events', '--follow', '--limit', '1'], stackCliEnv(stack.endpoint, TOKEN));
    let out = '';
    follower.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<NodeJS.Signals | number | null>((resolve) => follower.on('close', (code, signal) => resolve(signal ?? code)));
    try {
      await vi.waitFor(() => expect(out).toMatch(/\n$/), PATIENCE);
      const firstPage = out;
      expect((await stack.admin('PUT', '/admin/api/log-level', { level: 'info' })).status).toBe(200);
      await vi.waitFor(() => expect(out.slice(firstPage.length)).toMatch(/ {2}development token {2}admin\.log_level {2}level=info {2}200 success\n$/), PATIENCE);
    } finally {
      follower.kill('SIGINT');
    }
    expect(await closed).toBe('SIGINT');
  });

  it('refuses bad paging values with a readable 400, and the CLI refuses a bad --limit', async () => {
    for (const query of ['limit=0', 'limit=1001', 'limit=ten', 'after=-1', 'after=1.5']) {
      const answer = await stack.admin('GET', `/admin/api/events?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error, query).toMatch(/^(limit|after) must be a whole number/);
    }
    const refused = await cli('admin', 'events', '--limit', '0');
    expect(refused).toMatchObject({ code: 2, out: '', err: 's3-orchestrator: --limit takes a number from 1 to 1000, got "0"\n' });
  });

  it('counts every audited event in /metrics', async () => {
    const sample = (text: string, event: string) => Number(new RegExp(`^s3o_audit_events_total\\{event="${event.replaceAll('.', '\\.')}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
    await vi.waitFor(async () => {
      const text = await (await fetch(`${stack.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
      expect(text).toContain('# TYPE s3o_audit_events_total counter');
      expect(sample(text, 's3.PutObject')).toBe(2);
      expect(sample(text, 's3.DeleteObjects')).toBe(1);
      // Two from the ring test, one from the follow test.
      expect(sample(text, 'admin.log_level')).toBe(3);
      expect(sample(text, 'admin.drain')).toBe(1);
    }, PATIENCE);
  });
});
