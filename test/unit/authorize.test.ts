/**
 * Who opens the admin door: the development token only in a Worker that says it is a development one; Access
 * tokens, refused with 403 when they are bad and 503 when the team's keys cannot be fetched.
 */
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { resetAccessKeySets } from '../../src/admin/access-jwt.ts';
import { authorizeAdmin } from '../../src/admin/authorize.ts';

const admin = { access: undefined, token: 'dev-admin-token-0123456789' };
const withToken = () => new Request('https://s3.example.com/admin/api/status', { headers: { authorization: `Bearer ${admin.token}` } });

describe('authorizeAdmin with the development token', () => {
  it('accepts it only when S3O_ENVIRONMENT is development', async () => {
    expect(await authorizeAdmin(withToken(), admin, 'development')).toEqual({ ok: true, caller: { kind: 'token' } });
  });

  it('fails closed everywhere else: production, unset (a plain wrangler deploy), or anything unexpected', async () => {
    for (const environment of ['production', undefined, '', 'staging', 'Development']) {
      const result = await authorizeAdmin(withToken(), admin, environment);
      expect(result, String(environment)).toMatchObject({ ok: false, status: 403 });
    }
  });
});

describe('authorizeAdmin with Cloudflare Access', () => {
  const TEAM = 'https://example-team.cloudflareaccess.com';
  const access = { access: { teamDomain: TEAM, audience: 'aud-tag' }, token: undefined };
  const withAssertion = (jwt: string) => new Request('https://s3.example.com/admin/api/status', { headers: { 'cf-access-jwt-assertion': jwt } });
  let jwksStatus = 200;
  let fetches = 0;
  let signed: (claims: Record<string, unknown>) => Promise<string>;

  beforeEach(async () => {
    resetAccessKeySets();
    jwksStatus = 200;
    fetches = 0;
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'key-1' };
    // Stands in for Cloudflare's JWKS endpoint, which the tests cannot reach.
    vi.stubGlobal('fetch', async (input: RequestInfo | URL) => {
      expect(String(input)).toBe(`${TEAM}/cdn-cgi/access/certs`);
      fetches++;
      return jwksStatus === 200 ? Response.json({ keys: [jwk] }) : new Response('down', { status: jwksStatus });
    });
    signed = (claims) =>
      new SignJWT({ aud: 'aud-tag', iss: TEAM, email: 'ops@example.com', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
        .setExpirationTime('5m')
        .sign(privateKey);
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('accepts a valid token and names the caller by email', async () => {
    expect(await authorizeAdmin(withAssertion(await signed({})), access, 'production')).toEqual({ ok: true, caller: { kind: 'access', identity: 'ops@example.com' } });
  });

  it("refuses the caller's bad token with 403", async () => {
    const result = await authorizeAdmin(withAssertion(await signed({ aud: 'another-app' })), access, 'production');
    expect(result).toEqual({ ok: false, status: 403, error: 'the Access token is for another application' });
  });

  it('answers 503 (not the caller’s fault) while the signing keys cannot be fetched, without refetching during the cooldown', async () => {
    jwksStatus = 500;
    const token = await signed({});
    for (let i = 0; i < 2; i++) {
      const result = await authorizeAdmin(withAssertion(token), access, 'production');
      expect(result).toMatchObject({ ok: false, status: 503 });
      expect(!result.ok && result.error).toContain("the team's signing keys could not be fetched");
      expect(!result.ok && result.error).toContain('answered 500');
    }
    expect(fetches).toBe(1);
  });
});
