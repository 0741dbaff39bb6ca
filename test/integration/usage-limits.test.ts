/**
 * Monthly usage limits per backend, counted in each backend's Durable Object: writes overflow to other backends
 * (507 when none is left), reads fail over and get 429 SlowDown only when every copy is over its limit, deletes
 * always pass, and concurrent clients overshoot a limit by no more than the requests in flight.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { s3Failure } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'usage-limit-admin-token-0123';
const stacks: TestStack[] = [];

afterAll(async () => {
  await Promise.all(stacks.map((s) => s.stop()));
});

async function stack(name: string, limitsA: Record<string, number>, limitsB: Record<string, number> = {}): Promise<TestStack> {
  const s = await startTestStack({
    name,
    admin: { token: TOKEN },
    strategy: 'pack',
    backends: [
      { name: 'a', kind: 's3rver', limits: limitsA },
      { name: 'b', kind: 's3rver', limits: limitsB },
    ],
  });
  stacks.push(s);
  return s;
}

const where = async (s: TestStack, key: string) =>
  (await s.query<{ backend_name: string }>('select backend_name from object_locations where key = $1', [key])).map((r) => r.backend_name);

async function usage(s: TestStack, backend: string): Promise<{ api_requests: number; egress_bytes: number; ingress_bytes: number }> {
  const status = (await s.admin('GET', '/admin/api/status')).body as { backends: { name: string; usage: { api_requests: number; egress_bytes: number; ingress_bytes: number } }[] };
  const found = status.backends.find((b) => b.name === backend);
  if (!found) throw new Error(`no backend ${backend}`);
  return found.usage;
}

const settle = () => new Promise((r) => setTimeout(r, 300));

describe('usage limits', () => {
  it('writes overflow past a backend over its ingress limit, and get 507 when no backend is left', async () => {
    const s = await stack('usagewrite', { ingress_byte_limit: 1000 }, { ingress_byte_limit: 1500 });
    const client = s.client(undefined, { maxAttempts: 1 });
    await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: 'one', Body: 'x'.repeat(600) }));
    await settle();
    await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: 'two', Body: 'y'.repeat(600) }));
    expect(await where(s, 'one')).toEqual(['a']);
    expect(await where(s, 'two')).toEqual(['b']);
    await settle();
    expect(await s3Failure(client.send(new PutObjectCommand({ Bucket: s.bucket, Key: 'three', Body: 'z'.repeat(1000) })))).toEqual({ code: 'InsufficientStorage', status: 507 });
    expect((await usage(s, 'a')).ingress_bytes).toBe(600);
    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toContain('s3o_usage_limit_rejections_total{operation="write"} 1');
    // The usage flush writes what the Durable Object counted into Postgres (the cron's nudge here).
    await fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());
    const month = new Date().toISOString().slice(0, 7);
    expect(await s.query("select period, ingress_bytes from backend_usage where backend_name = 'a'")).toEqual([{ period: month, ingress_bytes: '600' }]);
    // Deletes always pass.
    await client.send(new DeleteObjectCommand({ Bucket: s.bucket, Key: 'one' }));
    expect(await where(s, 'one')).toEqual([]);
    await s.expectExactAccounting();
  });

  it('reads fail over past a backend over its egress limit, and get 429 SlowDown when every copy is over', async () => {
    const s = await stack('usageread', { egress_byte_limit: 2500 });
    const client = s.client(undefined, { maxAttempts: 1 });
    await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: 'only-on-a', Body: 'r'.repeat(1000) }));
    for (let i = 0; i < 3; i++) {
      await (await client.send(new GetObjectCommand({ Bucket: s.bucket, Key: 'only-on-a' }))).Body?.transformToString();
      await settle();
    }
    expect((await usage(s, 'a')).egress_bytes).toBe(3000);
    expect(await s3Failure(client.send(new GetObjectCommand({ Bucket: s.bucket, Key: 'only-on-a' })))).toEqual({ code: 'SlowDown', status: 429 });
    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toContain('s3o_usage_egress_bytes{backend="a"} 3000');
    expect(metrics).toContain('s3o_usage_limit_rejections_total{operation="read"} 1');
  });

  it('concurrent clients overshoot an API limit by at most the requests in flight', async () => {
    const limit = 30;
    const clients = 8;
    const s = await stack('usageapi', { api_request_limit: limit });
    const client = s.client(undefined, { maxAttempts: 1 });
    await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: 'hot', Body: 'h' }));
    let refused = 0;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = 0; i < 15; i++) {
          try {
            await (await client.send(new GetObjectCommand({ Bucket: s.bucket, Key: 'hot' }))).Body?.transformToString();
          } catch (err) {
            expect((err as { name?: string }).name).toBe('SlowDown');
            refused++;
          }
        }
      }),
    );
    await settle();
    const used = (await usage(s, 'a')).api_requests;
    console.log(`API limit ${limit}: ${used} requests reached the backend with ${clients} concurrent clients; ${refused} refused`);
    expect(refused).toBeGreaterThan(0);
    expect(used).toBeGreaterThanOrEqual(limit);
    expect(used).toBeLessThanOrEqual(limit + clients);
  });
});
