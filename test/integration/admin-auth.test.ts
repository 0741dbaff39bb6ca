/**
 * The admin API's door: real RS256 JWTs from a key this test serves as a JWKS on 127.0.0.1 (standing in for
 * https://<team>.cloudflareaccess.com/cdn-cgi/access/certs), and the development token.
 */
import { createServer, type Server } from 'node:http';
import { generateKeyPairSync, createSign, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type TestStack, startTestStack } from '../support/stack.ts';

const AUD = 'test-audience-tag';
const DEV_TOKEN = 'dev-admin-token-0123456789';
let jwks: Server;
let team: string;
let stack: TestStack;
let production: TestStack;
/** Its Access team's signing keys cannot be fetched (the JWKS endpoint answers 500). */
let keyless: TestStack;
let brokenJwks: Server;
const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString('base64url');
}

function jwt(claims: Record<string, unknown>, opts: { kid?: string; privateKey?: KeyObject } = {}): string {
  const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: opts.kid ?? 'test-key' }));
  const payload = b64url(JSON.stringify(claims));
  const signature = createSign('RSA-SHA256').update(`${header}.${payload}`).sign(opts.privateKey ?? key.privateKey);
  return `${header}.${payload}.${b64url(signature)}`;
}

const now = () => Math.floor(Date.now() / 1000);
const claims = (extra: Record<string, unknown> = {}) => ({ aud: [AUD], iss: team, exp: now() + 300, nbf: now() - 5, email: 'ops@example.com', ...extra });

beforeAll(async () => {
  const publicJwk = key.publicKey.export({ format: 'jwk' });
  jwks = createServer((req, res) => {
    if (req.url !== '/cdn-cgi/access/certs') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ ...publicJwk, kid: 'test-key', alg: 'RS256', use: 'sig' }] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  team = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
  brokenJwks = createServer((_req, res) => res.writeHead(500).end('down'));
  await new Promise<void>((resolve) => brokenJwks.listen(0, '127.0.0.1', resolve));
  const brokenTeam = `http://127.0.0.1:${(brokenJwks.address() as AddressInfo).port}`;
  const admin = { access: { team_domain: team, audience: AUD }, token: DEV_TOKEN };
  [stack, production, keyless] = await Promise.all([
    startTestStack({ name: 'admin', admin, backends: [{ name: 'local', kind: 's3rver', quotaBytes: 1024 ** 3 }] }),
    startTestStack({ name: 'adminprod', admin, vars: { S3O_ENVIRONMENT: 'production' }, backends: [{ name: 'local', kind: 's3rver' }] }),
    startTestStack({ name: 'adminkeyless', admin: { access: { team_domain: brokenTeam, audience: AUD } }, backends: [{ name: 'local', kind: 's3rver' }] }),
  ]);
});

afterAll(async () => {
  await Promise.all([stack?.stop(), production?.stop(), keyless?.stop()]);
  await new Promise((resolve) => jwks?.close(resolve));
  await new Promise((resolve) => brokenJwks?.close(resolve));
});

async function call(target: TestStack, headers: Record<string, string>, path = '/admin/api/status') {
  const response = await fetch(`${target.endpoint}${path}`, { headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('admin API authentication', () => {
  it('accepts a valid Access JWT and answers status as JSON', async () => {
    await stack.client().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'a.txt', Body: 'hello' }));
    const out = await call(stack, { 'cf-access-jwt-assertion': jwt(claims()) });
    expect(out).toEqual({
      status: 200,
      body: {
        period: new Date().toISOString().slice(0, 7),
        backends: [
          {
            name: 'local',
            bytes_used: 5,
            bytes_limit: 1024 ** 3,
            bytes_available: 1024 ** 3 - 5,
            orphan_bytes: 0,
            objects: 1,
            multipart_uploads: 0,
            // The PUT's own usage may or may not have reached the backend's Durable Object yet.
            usage: expect.objectContaining({ api_request_limit: 0, egress_bytes: 0, egress_byte_limit: 0, ingress_byte_limit: 0 }),
            state: 'active',
            breaker: { state: 'closed', consecutive_failures: 0 },
          },
        ],
        // The leased background jobs' last runs and totals.
        jobs: expect.objectContaining({ lifecycle: expect.objectContaining({ running: false }), rebalance: expect.anything(), reconcile: expect.anything() }),
      },
    });
  });

  it('refuses expired, not yet valid, wrong audience, wrong issuer, unknown key and forged tokens with 403', async () => {
    const cases: [string, string][] = [
      [jwt(claims({ exp: now() - 600 })), 'expired'],
      [jwt(claims({ nbf: now() + 600 })), 'not valid yet'],
      [jwt(claims({ aud: ['other-app'] })), 'another application'],
      [jwt(claims({ iss: 'https://evil.cloudflareaccess.com' })), 'another team'],
      [jwt(claims(), { kid: 'no-such-key' }), 'unknown key'],
      [jwt(claims(), { privateKey: stranger.privateKey }), 'signature is invalid'],
      ['garbage', 'malformed'],
    ];
    for (const [token, message] of cases) {
      const out = await call(stack, { 'cf-access-jwt-assertion': token });
      expect(out.status, message).toBe(403);
      expect(String(out.body.error)).toContain(message);
    }
  });

  it('answers a JSON 503 on /admin and /metrics when the Access signing keys cannot be fetched, never an uncaught 500', async () => {
    for (const path of ['/admin/api/status', '/metrics']) {
      const response = await fetch(`${keyless.endpoint}${path}`, { headers: { 'cf-access-jwt-assertion': jwt(claims({ iss: keyless.endpoint })) } });
      expect(response.status, path).toBe(503);
      expect(response.headers.get('content-type'), path).toContain('application/json');
      expect(((await response.json()) as { error: string }).error, path).toContain('signing keys could not be fetched');
    }
  });

  it('answers 401 without credentials and 404 JSON for unknown routes', async () => {
    expect((await call(stack, {})).status).toBe(401);
    const unknown = await call(stack, { authorization: `Bearer ${DEV_TOKEN}` }, '/admin/api/nope');
    expect(unknown.status).toBe(404);
    expect(String(unknown.body.error)).toContain('no admin route');
  });

  it('accepts the development token outside production, refuses a wrong one, and refuses it in production', async () => {
    expect((await call(stack, { authorization: `Bearer ${DEV_TOKEN}` })).status).toBe(200);
    expect((await call(stack, { authorization: 'Bearer wrong-token-wrong-token' })).status).toBe(403);
    const prod = await call(production, { authorization: `Bearer ${DEV_TOKEN}` });
    expect(prod.status).toBe(403);
    expect(String(prod.body.error)).toContain('refused in production');
    expect((await call(production, { 'cf-access-jwt-assertion': jwt(claims()) })).status).toBe(200);
  });

  it('changes the log level fleet-wide at runtime, refuses bad levels, and returns to the configuration', async () => {
    const auth = { authorization: `Bearer ${DEV_TOKEN}`, 'content-type': 'application/json' };
    const put = (body: string) => fetch(`${stack.endpoint}/admin/api/log-level`, { method: 'PUT', headers: auth, body });
    expect(await call(stack, auth, '/admin/api/log-level')).toEqual({ status: 200, body: { level: 'warn', source: 'config', propagation_seconds: 5 } });
    const set = await put('{"level":"debug"}');
    expect(set.status).toBe(200);
    expect(await call(stack, auth, '/admin/api/log-level')).toMatchObject({ status: 200, body: { level: 'debug', source: 'runtime' } });
    const bad = await put('{"level":"loud"}');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('level must be one of debug, info, warn, error');
    expect((await put('not json')).status).toBe(400);
    const reset = await fetch(`${stack.endpoint}/admin/api/log-level`, { method: 'DELETE', headers: auth });
    expect(((await reset.json()) as { level: string; source: string })).toMatchObject({ level: 'warn', source: 'config' });
  });

  it('names an Access caller in the audit trail: the email of a person, the common name of a service token', async () => {
    const start = (await call(stack, { authorization: `Bearer ${DEV_TOKEN}` }, '/admin/api/events?limit=1')).body.last as number;
    const person = { 'cf-access-jwt-assertion': jwt(claims()), 'content-type': 'application/json' };
    const service = { 'cf-access-jwt-assertion': jwt(claims({ email: undefined, common_name: 'svc-0123.access' })), 'content-type': 'application/json' };
    expect((await fetch(`${stack.endpoint}/admin/api/log-level`, { method: 'PUT', headers: person, body: '{"level":"info"}' })).status).toBe(200);
    expect((await fetch(`${stack.endpoint}/admin/api/log-level`, { method: 'DELETE', headers: service })).status).toBe(200);
    // The ring is appended after each answer, so the check waits for both entries.
    const events = await vi.waitFor(async () => {
      const page = await call(stack, { 'cf-access-jwt-assertion': jwt(claims()) }, `/admin/api/events?after=${start}`);
      expect(page.body.events).toHaveLength(2);
      return page.body.events;
    }, { timeout: 60_000, interval: 200 });
    expect(events).toEqual([
      expect.objectContaining({ event: 'admin.log_level', actor: 'ops@example.com', params: { level: 'info' }, status: 200 }),
      expect.objectContaining({ event: 'admin.log_level_reset', actor: 'svc-0123.access', status: 200 }),
    ]);
  });
});
