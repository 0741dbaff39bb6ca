/**
 * The cleanup queue's cron: a failed delete is retried and its orphaned bytes released; a live copy is never
 * deleted; failures back off and stop after 10 attempts, kept for `admin cleanup-queue`.
 */
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliFor } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'cleanup-test-admin-token-0123';
let s: TestStack;

beforeAll(async () => {
  s = await startTestStack({
    name: 'cleanup',
    admin: { token: TOKEN },
    sections: { server: { log_level: 'warn', backend_timeout: '1s' } },
    backends: [{ name: 'r', kind: 'radosgw', faultProxy: true }],
  });
});

afterAll(async () => {
  await s?.stop();
});

const cron = () => fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());

const cli = cliFor(() => s.endpoint, TOKEN);

/** A failed delete as the orchestrator queues it: the item, and its bytes held in orphan_bytes. */
async function enqueue(backend: string, physicalKey: string, size: number): Promise<number> {
  const [row] = await s.query<{ id: string }>(
    "insert into cleanup_queue (backend_name, physical_key, reason, size) values ($1, $2, 'overwrite_displaced', $3) returning id",
    [backend, physicalKey, size],
  );
  await s.query('update backend_quotas set orphan_bytes = orphan_bytes + $2 where backend_name = $1', [backend, size]);
  return Number(row?.id);
}

const orphanBytes = async (backend: string) =>
  Number((await s.query<{ orphan_bytes: string }>('select orphan_bytes from backend_quotas where backend_name = $1', [backend]))[0]?.orphan_bytes);

describe('cleanup queue', () => {
  it('deletes a queued copy and releases its bytes; never deletes a live copy', async () => {
    await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: 'live.txt', Body: 'still here' }));
    const [live] = await s.query<{ physical_key: string }>("select physical_key from object_locations where key = 'live.txt'");
    const rgw = s.backend('r');
    expect((await rgw.aws.fetch(`${rgw.base}/garbage/left-behind`, { method: 'PUT', body: 'x'.repeat(300) })).ok).toBe(true);
    await enqueue('r', 'garbage/left-behind', 300);
    await enqueue('r', live?.physical_key ?? '', 10);
    expect(await orphanBytes('r')).toBe(310);

    await cron();
    expect(await s.query('select count(*)::int as n from cleanup_queue')).toEqual([{ n: 0 }]);
    expect(await orphanBytes('r')).toBe(0);
    expect(await s.backendKeys('r')).not.toContain('garbage/left-behind');
    const got = await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: 'live.txt' }));
    expect(await got.Body?.transformToString()).toBe('still here');
    await s.expectExactAccounting();
  });

  it('backs off after a failure, gives up after 10 attempts and shows the item to operators', async () => {
    // A backend the database knows but the configuration no longer has: its deletes cannot succeed.
    await s.query("insert into backend_quotas (backend_name) values ('gone')");
    const id = await enqueue('gone', 'old/copy', 42);
    const started = Date.now();
    await cron();
    const [first] = await s.query<{ attempts: number; next_retry: Date; last_error: string }>('select attempts, next_retry, last_error from cleanup_queue where id = $1', [id]);
    expect(first?.attempts).toBe(1);
    expect(first?.last_error).toContain('backend gone is not in the configuration');
    const wait = (first?.next_retry.getTime() ?? 0) - started;
    expect(wait).toBeGreaterThan(55_000);
    expect(wait).toBeLessThan(70_000);

    await cron();
    expect((await s.query<{ attempts: number }>('select attempts from cleanup_queue where id = $1', [id]))[0]?.attempts).toBe(1);

    await s.query("update cleanup_queue set attempts = 9, next_retry = now() - interval '1 second' where id = $1", [id]);
    await cron();
    await s.query("update cleanup_queue set next_retry = now() - interval '1 second' where id = $1", [id]);
    await cron();
    expect((await s.query<{ attempts: number }>('select attempts from cleanup_queue where id = $1', [id]))[0]?.attempts).toBe(10);
    expect(await orphanBytes('gone')).toBe(42);

    const shown = await cli('admin', 'cleanup-queue');
    expect(shown.code).toBe(0);
    expect(shown.out).toContain('cleanup queue: 1 waiting, 0 due now, 1 stuck after 10 attempts');
    expect(shown.out).toMatch(/\n\d+\s+gone\s+old\/copy\s+overwrite_displaced\s+42 B\s+10\s+never \(stuck\)\s+backend gone is not in the configuration/);
    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toContain('s3o_cleanup_queue_depth 1');
    expect(metrics).toContain('s3o_cleanup_queue_stuck 1');
    expect(metrics).toContain('s3o_cleanup_queue_processed_total{status="success"} 1');
    expect(metrics).toContain('s3o_cleanup_queue_processed_total{status="error"} 2');
    await s.expectExactAccounting();
  });

  it('an abort the backend refuses still succeeds for the client, and the backend upload is aborted later', async () => {
    const client = s.client(undefined, { maxAttempts: 1 });
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: s.bucket, Key: 'abandoned.bin' }));
    const part = 5 * 1024 * 1024;
    await client.send(new UploadPartCommand({ Bucket: s.bucket, Key: 'abandoned.bin', UploadId: created.UploadId, PartNumber: 1, Body: Buffer.alloc(part, 7) }));
    const orphansBefore = await orphanBytes('r');
    s.fault('r').setMode('fail');
    await client.send(new AbortMultipartUploadCommand({ Bucket: s.bucket, Key: 'abandoned.bin', UploadId: created.UploadId }));
    s.fault('r').setMode('pass');
    expect(await s.query('select count(*)::int as n from multipart_uploads')).toEqual([{ n: 0 }]);
    const [item] = await s.query<{ id: string; reason: string; size: string; backend_upload_id: string | null }>(
      "select id, reason, size, backend_upload_id from cleanup_queue where reason = 'abort_failed'",
    );
    expect(item).toMatchObject({ reason: 'abort_failed', size: String(part) });
    expect(item?.backend_upload_id).toBeTruthy();
    expect(await orphanBytes('r')).toBe(orphansBefore + part);

    await s.query("update cleanup_queue set next_retry = now() - interval '1 second' where id = $1", [item?.id]);
    await cron();
    expect(await s.query("select count(*)::int as n from cleanup_queue where reason = 'abort_failed'")).toEqual([{ n: 0 }]);
    expect(await orphanBytes('r')).toBe(orphansBefore);
    const rgw = s.backend('r');
    const uploads = await (await rgw.aws.fetch(`${rgw.base}?uploads`)).text();
    expect(uploads).not.toContain('<Upload>');
    await s.expectExactAccounting();
  });

  it('a client that hangs up while its delete is on the way to the backend still gets the bytes cleaned up', async () => {
    await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: 'hang-up.txt', Body: 'delete me' }));
    const [copy] = await s.query<{ physical_key: string }>("select physical_key from object_locations where key = 'hang-up.txt'");
    const physicalKey = copy?.physical_key ?? '';
    s.fault('r').setMode('hold', 0, { methods: ['DELETE'] });
    const hangUp = new AbortController();
    const deleting = s.client().send(new DeleteObjectCommand({ Bucket: s.bucket, Key: 'hang-up.txt' }), { abortSignal: hangUp.signal });
    const started = Date.now();
    while (s.fault('r').held() === 0) {
      if (Date.now() - started > 10_000) throw new Error('the backend delete never arrived');
      await new Promise((r) => setTimeout(r, 20));
    }
    // The record is gone (committed); the client leaves while the backend delete is in flight.
    hangUp.abort();
    await expect(deleting).rejects.toThrow();
    // The delete goes on without the client: it fails after backend_timeout and is queued, not forgotten. (The local
    // runtime does not cancel on a hang-up, Cloudflare does; test/unit/worker-entry.test.ts checks the guard.)
    const queuedBy = Date.now() + 15_000;
    while ((await s.query('select 1 from cleanup_queue where physical_key = $1', [physicalKey])).length === 0) {
      if (Date.now() > queuedBy) throw new Error('the failed delete was never queued: its bytes leaked');
      await new Promise((r) => setTimeout(r, 200));
    }
    s.fault('r').setMode('pass');
    await s.query('update cleanup_queue set next_retry = now() where physical_key = $1', [physicalKey]);
    await cron();
    expect(await s.backendKeys('r')).not.toContain(physicalKey);
    await s.expectExactAccounting();
  });
});
