/**
 * The per-client-IP rate limit across the fleet (each IP's bucket in its own Durable Object): a burst, then 429
 * SlowDown with Retry-After; other clients unaffected; X-Forwarded-For believed only from trusted proxies (and a
 * prepended address cannot evade it); rate and burst reloadable by config push.
 */
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { xmlError } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'ratelimit-admin-token-012345';
let s: TestStack;
let aws: AwsClient;
/** Refusals counted besides the first test's three (the health route's and the IPv6 network's). */
let extraRefusals = 0;

beforeAll(async () => {
  s = await startTestStack({
    name: 'ratelimit',
    admin: { token: TOKEN },
    // The test talks to the Worker from 127.0.0.1, which it trusts as a proxy, so X-Forwarded-For names the client.
    sections: { rate_limit: { enabled: true, requests_per_sec: 1, burst: 3, trusted_proxies: ['127.0.0.1/32', '::1/128'] } },
    backends: [{ name: 'local', kind: 's3rver' }],
  });
  aws = new AwsClient({ ...s.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
});

afterAll(async () => {
  await s?.stop();
});

const from = (forwardedFor: string) => aws.fetch(`${s.endpoint}/${s.bucket}/missing.txt`, { headers: { 'x-forwarded-for': forwardedFor } });

describe('rate limit', () => {
  it('allows the burst, then answers 429 SlowDown with Retry-After; other clients are not affected', async () => {
    for (let i = 0; i < 3; i++) expect((await from('203.0.113.5')).status).toBe(404);
    const limited = await from('203.0.113.5');
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(await xmlError(limited)).toEqual({ status: 429, code: 'SlowDown' });
    expect((await from('198.51.100.7')).status).toBe(404);
    // Prepending an address does not make a new client: the rightmost untrusted one is what counts.
    expect((await from('192.0.2.1, 203.0.113.5')).status).toBe(429);
    const admin = await fetch(`${s.endpoint}/admin/api/status`, { headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '203.0.113.5' } });
    expect(admin.status).toBe(429);
    expect(await admin.json()).toEqual({ error: 'too many requests from this address; slow down' });
    // /health is limited like every route (20 at once from a fresh address: far past its burst of 3).
    const health = await Promise.all(Array.from({ length: 20 }, () => fetch(`${s.endpoint}/health`, { headers: { 'x-forwarded-for': '192.0.2.77' } })));
    const statuses = await Promise.all(health.map(async (r) => (await r.text(), r.status)));
    expect(statuses).toContain(429);
    extraRefusals = statuses.filter((status) => status === 429).length;
    expect(health.find((r) => r.status === 429)?.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('limits an IPv6 client by its /64, so rotating addresses inside it does not evade the limit', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => from(`2001:db8:5:6::${(i + 1).toString(16)}`)));
    const statuses = answers.map((r) => r.status);
    await Promise.all(answers.map((r) => r.arrayBuffer()));
    expect(statuses).toContain(429);
    extraRefusals += statuses.filter((status) => status === 429).length;
    // Another /64 has its own bucket.
    expect((await from('2001:db8:5:7::1')).status).toBe(404);
  });

  it('rate and burst reload with a config push; the refusals are counted fleet-wide', async () => {
    const doc = { ...s.deployedConfig(), rate_limit: { enabled: true, requests_per_sec: 1000, burst: 1000, trusted_proxies: ['127.0.0.1/32', '::1/128'] } };
    const pushed = await s.admin('POST', '/admin/api/config/versions', { yaml: stringify(doc) });
    expect(pushed.status).toBe(201);
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 10; i++) expect((await from('203.0.113.5')).status).toBe(404);
    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toContain(`s3o_rate_limit_rejections_total ${3 + extraRefusals}`);
  });
});
