/**
 * The per-client-IP rate limit across the fleet (each IP's bucket in its own Durable Object): a burst, then 429
 * SlowDown with Retry-After; other clients unaffected; X-Forwarded-For believed only from trusted proxies (and a
 * prepended address cannot evade it); rate and burst reloadable by config push.
 */
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'ratelimit-admin-token-012345';
let s: TestStack;
let aws: AwsClient;
/** Every 429 the tests have seen: /metrics must count exactly these. */
let refusals = 0;

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
  // Requests go out together, many more than the burst of 3: however slowly a busy machine answers them (the
  // bucket refills one token a second), some are refused, and the count of refusals is exact either way.
  const together = async (n: number, send: () => Promise<Response>) => {
    const answers = await Promise.all(Array.from({ length: n }, send));
    const bodies = await Promise.all(answers.map((r) => r.text()));
    refusals += answers.filter((r) => r.status === 429).length;
    return answers.map((r, i) => ({ status: r.status, headers: r.headers, body: bodies[i]! }));
  };

  it('allows the burst, then answers 429 SlowDown with Retry-After; other clients are not affected', async () => {
    const first = await together(20, () => from('203.0.113.5'));
    expect(first.filter((a) => a.status === 404).length).toBeGreaterThanOrEqual(3);
    const limited = first.find((a) => a.status === 429);
    expect(limited?.headers.get('retry-after')).toBe('1');
    expect(limited?.body).toContain('<Code>SlowDown</Code>');
    expect((await from('198.51.100.7')).status).toBe(404);
    // Prepending an address does not make a new client: the rightmost untrusted one is what counts, so twenty
    // requests each with another address in front still share one bucket.
    const prepended = await together(20, () => from(`192.0.2.${Math.floor(Math.random() * 250) + 1}, 203.0.113.6`));
    expect(prepended.filter((a) => a.status === 429).length).toBeGreaterThan(0);
    const admin = await together(20, () => fetch(`${s.endpoint}/admin/api/status`, { headers: { authorization: `Bearer ${TOKEN}`, 'x-forwarded-for': '203.0.113.7' } }));
    const adminLimited = admin.find((a) => a.status === 429);
    expect(adminLimited && JSON.parse(adminLimited.body)).toEqual({ error: 'too many requests from this address; slow down' });
    // /health is limited like every route.
    const health = await together(20, () => fetch(`${s.endpoint}/health`, { headers: { 'x-forwarded-for': '192.0.2.77' } }));
    expect(health.find((a) => a.status === 429)?.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('limits an IPv6 client by its /64, so rotating addresses inside it does not evade the limit', async () => {
    let i = 0;
    const answers = await together(20, () => from(`2001:db8:5:6::${(++i).toString(16)}`));
    expect(answers.map((a) => a.status)).toContain(429);
    // Another /64 has its own bucket.
    expect((await from('2001:db8:5:7::1')).status).toBe(404);
  });

  it('rate and burst reload with a config push; the refusals are counted fleet-wide', async () => {
    const doc = { ...s.deployedConfig(), rate_limit: { enabled: true, requests_per_sec: 1000, burst: 1000, trusted_proxies: ['127.0.0.1/32', '::1/128'] } };
    const pushed = await s.admin('POST', '/admin/api/config/versions', { yaml: stringify(doc) });
    expect(pushed.status).toBe(201);
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 10; i++) expect((await from('203.0.113.5')).status).toBe(404);
    // Refusals are counted off the request's path: wait (bounded) for the last ones to land.
    let metrics = '';
    for (let attempt = 0; attempt < 30 && !metrics.includes(`s3o_rate_limit_rejections_total ${refusals}\n`); attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, 1000));
      metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    }
    expect(metrics).toContain(`s3o_rate_limit_rejections_total ${refusals}\n`);
  });
});
