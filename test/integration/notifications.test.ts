/**
 * Webhook notifications against the real Worker (wrangler dev runs the notifications queue, its retries and its
 * dead-letter queue locally): a local receiver gets every event type once, each a CloudEvents 1.0 document signed
 * with the endpoint's secret; after an outage of the receiver the events it refused arrive again with the same id.
 * Delivery is at-least-once and off every request's path, so each check waits (bounded) for what it expects.
 */
import { createHmac } from 'node:crypto';
import { type IncomingMessage, type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'notify-test-admin-token-0123';
const SECRET = 'notify-webhook-secret-0123456789';
const MASTER_KEY = Buffer.alloc(32, 7).toString('base64');
/** Generous: the suite runs on a busy 2-core machine; every check passes as soon as its deliveries are there. */
const PATIENCE = { timeout: 90_000, interval: 250 };

interface Delivery {
  body: string;
  event: Record<string, unknown>;
  contentType: string | undefined;
  signature: string | undefined;
  /** What the receiver answered. */
  status: number;
}

/** A webhook receiver on 127.0.0.1 that records every delivery and answers 503 while `refuse` is above zero. */
function startReceiver(): Promise<{ server: Server; url: string; deliveries: Delivery[]; refuseNext(n: number): void }> {
  const deliveries: Delivery[] = [];
  let refuse = 0;
  const server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const status = refuse > 0 ? 503 : 204;
      if (refuse > 0) refuse--;
      deliveries.push({
        body,
        event: JSON.parse(body) as Record<string, unknown>,
        contentType: request.headers['content-type'],
        signature: request.headers['x-webhook-signature'] as string | undefined,
        status,
      });
      response.writeHead(status).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}/hook`, deliveries, refuseNext: (n) => void (refuse = n) });
    }),
  );
}

let stack: TestStack;
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startTestStack({
    name: 'notify',
    admin: { token: TOKEN },
    sections: {
      circuit_breaker: { failure_threshold: 1, open_timeout: '1s' },
      encryption: { enabled: true, master_key: '${MASTER_KEY}' },
      notifications: { retry_delay: '0s', endpoints: [{ name: 'receiver', url: receiver.url, secret: '${WEBHOOK_SECRET}', events: ['*'] }] },
    },
    vars: { WEBHOOK_SECRET: SECRET, MASTER_KEY },
    strategy: 'pack',
    backends: [
      // Placement fills `small` first: 1700 of its 2000 bytes make it worth a capacity warning.
      { name: 'small', kind: 's3rver', quotaBytes: 2000 },
      { name: 'flaky', kind: 's3rver', faultProxy: true, quotaBytes: 1024 ** 3 },
      { name: 'spare', kind: 's3rver', quotaBytes: 1024 ** 3 },
    ],
  });
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await new Promise((resolve) => receiver?.server.close(resolve));
});

const cron = () => fetch(`${stack.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());
const taken = () => receiver.deliveries.filter((d) => d.status < 300);
const takenOf = (type: string) => taken().filter((d) => d.event.type === type);
const signed = (body: string) => `sha256=${createHmac('sha256', SECRET).update(body, 'utf8').digest('hex')}`;

/** Waits until the receiver took an event of `type` (matching `subject` when given), and returns it. */
async function received(type: string, subject?: string): Promise<Delivery> {
  return vi.waitFor(() => {
    const found = takenOf(type).find((d) => subject === undefined || d.event.subject === subject);
    if (!found) throw new Error(`no ${type}${subject ? ` for ${subject}` : ''} yet; received: ${taken().map((d) => d.event.type).join(', ')}`);
    return found;
  }, PATIENCE);
}

describe('every event type', () => {
  it('reaches the receiver as a signed CloudEvents 1.0 document', async () => {
    const s3 = stack.client();
    const bucket = stack.bucket;
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big.bin', Body: Buffer.alloc(1700, 1) }));
    // `small` is nearly full now: this one goes to `flaky`.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'on-flaky.txt', Body: 'x'.repeat(500) }));
    await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copied.txt', CopySource: `${bucket}/on-flaky.txt` }));
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'multi.bin' }));
    const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'multi.bin', UploadId: upload.UploadId, PartNumber: 1, Body: Buffer.alloc(100, 2) }));
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'multi.bin', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
    );
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'copied.txt' }));
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'multi.bin' }, { Key: 'never-was.txt' }] } }));

    // The breaker: one failed read opens it (failure_threshold 1); the cron's probe closes it once it answers.
    stack.fault('flaky').setMode('fail');
    await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'on-flaky.txt' })).catch(() => undefined);
    await received('backend.circuit.opened', 'flaky');
    stack.fault('flaky').setMode('pass');
    await vi.waitFor(async () => {
      await cron();
      if (takenOf('backend.circuit.closed').length === 0) throw new Error('breaker not closed yet');
    }, PATIENCE);

    // The cron's capacity watch; then a drain of the empty `spare` completes, and it is removed.
    await cron();
    expect((await stack.admin('POST', '/admin/api/backends/spare/drain')).status).toBeLessThan(300);
    await received('backend.drain.completed', 'spare');
    expect((await stack.admin('DELETE', '/admin/api/backends/spare')).status).toBe(200);
    // A pushed version announces itself; a bulk job announces its end.
    const pushed = { ...stack.deployedConfig(), replication: { batch_size: 60 } };
    const push = await stack.admin('POST', '/admin/api/config/versions', { yaml: stringify(pushed) });
    expect(push.status).toBe(201);
    expect((await stack.admin('POST', '/admin/api/encrypt-existing')).status).toBeLessThan(300);

    const expected: Record<string, { subject: string; data: Record<string, unknown> }> = {
      's3:ObjectCreated:Put': { subject: `${bucket}/big.bin`, data: { bucket, key: 'big.bin', size: 1700 } },
      's3:ObjectCreated:Copy': { subject: `${bucket}/copied.txt`, data: { bucket, key: 'copied.txt', copy_source: `${bucket}/on-flaky.txt` } },
      's3:ObjectCreated:CompleteMultipartUpload': { subject: `${bucket}/multi.bin`, data: { bucket, key: 'multi.bin', upload_id: upload.UploadId } },
      's3:ObjectRemoved:Delete': { subject: `${bucket}/copied.txt`, data: { bucket, key: 'copied.txt' } },
      's3:ObjectRemoved:DeleteBatch': { subject: bucket, data: { bucket, keys: ['multi.bin', 'never-was.txt'], count: 2, errors: 0, truncated: false } },
      'backend.circuit.opened': { subject: 'flaky', data: { backend: 'flaky', consecutive_failures: 1 } },
      'backend.circuit.closed': { subject: 'flaky', data: { backend: 'flaky' } },
      'backend.capacity.warning': { subject: 'small', data: { backend: 'small', quota_bytes: 2000, threshold: 0.8 } },
      'backend.drain.completed': { subject: 'spare', data: { backend: 'spare', objects_moved: 0 } },
      'backend.removed': { subject: 'spare', data: { backend: 'spare', purged: false, records_dropped: 0 } },
      'config.version.activated': { subject: String(push.body.version), data: { version: push.body.version, source: 'push', by: 'development token' } },
      'job.completed': { subject: expect.any(String) as unknown as string, data: { kind: 'encrypt-existing' } },
    };
    for (const [type, { subject, data }] of Object.entries(expected)) {
      const delivery = await received(type, typeof subject === 'string' ? subject : undefined);
      expect(delivery.contentType).toBe('application/cloudevents+json');
      expect(delivery.signature, type).toBe(signed(delivery.body));
      expect(Object.keys(delivery.event).sort()).toEqual(['data', 'datacontenttype', 'id', 'source', 'specversion', 'subject', 'time', 'type']);
      expect(delivery.event, type).toMatchObject({ specversion: '1.0', source: '/s3-orchestrator', type, subject, datacontenttype: 'application/json', data });
      expect(delivery.event.id).toMatch(/^evt_[0-9a-f]{32}$/);
      expect(Date.parse(String(delivery.event.time))).not.toBeNaN();
    }
    // Each event once (a duplicate would only come from a lost 2xx, which this receiver never loses).
    const ids = taken().map((d) => d.event.id);
    expect(new Set(ids).size).toBe(ids.length);

    const metrics = await (await fetch(`${stack.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toContain('s3o_notification_sent_total{endpoint="receiver",event_type="s3:ObjectCreated:Put"}');
  });
});

describe('a receiver outage', () => {
  it('is retried until the receiver takes each event, with the same id and body', async () => {
    const before = receiver.deliveries.length;
    receiver.refuseNext(3);
    const s3 = stack.client();
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'during-outage-1.txt', Body: 'one' }));
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'during-outage-2.txt', Body: 'two' }));
    const subjects = [`${stack.bucket}/during-outage-1.txt`, `${stack.bucket}/during-outage-2.txt`];
    await vi.waitFor(() => {
      for (const subject of subjects) expect(takenOf('s3:ObjectCreated:Put').some((d) => d.event.subject === subject), subject).toBe(true);
    }, PATIENCE);
    const attempts = receiver.deliveries.slice(before);
    expect(attempts.filter((d) => d.status === 503)).toHaveLength(3);
    for (const subject of subjects) {
      const mine = attempts.filter((d) => d.event.subject === subject);
      // At least once: every attempt of one event carries the same id and the same bytes, and one was taken.
      expect(new Set(mine.map((d) => d.event.id)).size).toBe(1);
      expect(new Set(mine.map((d) => d.body)).size).toBe(1);
      expect(mine.some((d) => d.status < 300)).toBe(true);
      for (const d of mine) expect(d.signature).toBe(signed(d.body));
    }
    const metrics = await (await fetch(`${stack.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toMatch(/s3o_notification_failed_total\{endpoint="receiver",event_type="s3:ObjectCreated:Put"\} [1-9]/);
  });
});
