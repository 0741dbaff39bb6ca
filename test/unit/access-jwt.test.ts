import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createAccessVerifier, resetAccessKeySets } from '../../src/admin/access-jwt.ts';

const TEAM = 'https://example-team.cloudflareaccess.com';
const AUD = 'aud-tag-0123456789';
const NOW = Date.UTC(2026, 10, 26, 12, 0, 0);

const b64url = (bytes: Uint8Array | string) =>
  btoa(typeof bytes === 'string' ? bytes : String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

interface Signer {
  kid: string;
  privateKey: CryptoKey;
  jwk: JsonWebKey;
}

async function signer(kid: string): Promise<Signer> {
  const pair = (await crypto.subtle.generateKey(
    { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    true,
    ['sign', 'verify'],
  )) as CryptoKeyPair;
  const jwk = (await crypto.subtle.exportKey('jwk', pair.publicKey)) as JsonWebKey;
  return { kid, privateKey: pair.privateKey, jwk };
}

async function token(s: Signer, claims: Record<string, unknown> | unknown[], header: Record<string, unknown> = {}): Promise<string> {
  const h = b64url(JSON.stringify({ alg: 'RS256', kid: s.kid, typ: 'JWT', ...header }));
  const p = b64url(JSON.stringify(claims));
  const sig = new Uint8Array(await crypto.subtle.sign('RSASSA-PKCS1-v1_5', s.privateKey, new TextEncoder().encode(`${h}.${p}`)));
  return `${h}.${p}.${b64url(sig)}`;
}

const valid = () => ({ aud: [AUD], iss: TEAM, exp: NOW / 1000 + 300, nbf: NOW / 1000 - 10, email: 'ops@example.com' });

let current: Signer;
let rotated: Signer;

beforeAll(async () => {
  current = await signer('key-1');
  rotated = await signer('key-2');
});

// jose's remote key set ages its cache and cooldowns by Date.now(), so the tests move that clock.
beforeEach(() => {
  resetAccessKeySets();
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});

afterEach(() => {
  vi.useRealTimers();
});

const advance = (ms: number) => vi.setSystemTime(Date.now() + ms);
/** Claims valid at the (moved) clock. */
const fresh = (extra: Record<string, unknown> = {}) => ({ ...valid(), exp: Date.now() / 1000 + 300, nbf: Date.now() / 1000 - 10, ...extra });

type Outage = 'none' | 'status' | 'network' | 'not-a-key-set';

/**
 * A fake of Cloudflare Access's JWKS endpoint (`https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`), which
 * cannot be reached from the tests; the integration test (admin-auth) serves a real JWKS over HTTP instead.
 */
function verifier(published: () => Signer[]) {
  const endpoint = { fetches: 0, outage: 'none' as Outage };
  const fakeFetch: typeof fetch = async (input) => {
    expect(String(input)).toBe(`${TEAM}/cdn-cgi/access/certs`);
    endpoint.fetches++;
    switch (endpoint.outage) {
      case 'network':
        throw new TypeError('Network connection lost.');
      case 'status':
        return new Response('upstream down', { status: 502 });
      case 'not-a-key-set':
        return Response.json({ keys: 'none' });
      case 'none':
        return Response.json({ keys: published().map((s) => ({ ...s.jwk, kid: s.kid, kty: 'RSA' })) });
    }
  };
  const v = createAccessVerifier({ teamDomain: TEAM, audience: AUD }, { fetch: fakeFetch });
  return { v, endpoint, fetches: () => endpoint.fetches };
}

describe('Cloudflare Access JWT verification', () => {
  it('accepts a valid token and caches the keys', async () => {
    const { v, fetches } = verifier(() => [current]);
    expect(await v.verify(await token(current, valid()))).toMatchObject({ ok: true, claims: { email: 'ops@example.com' } });
    expect(await v.verify(await token(current, valid()))).toMatchObject({ ok: true });
    expect(fetches()).toBe(1);
  });

  it('keeps one JWKS per team domain per isolate, shared by every verifier, until reset', async () => {
    const first = verifier(() => [current]);
    const second = verifier(() => [current]);
    expect((await first.v.verify(await token(current, valid()))).ok).toBe(true);
    expect((await second.v.verify(await token(current, valid()))).ok).toBe(true);
    expect(first.fetches() + second.fetches()).toBe(1);
    resetAccessKeySets();
    expect((await second.v.verify(await token(current, valid()))).ok).toBe(true);
    expect(second.fetches()).toBe(1);
  });

  it('refetches the JWKS after 10 minutes', async () => {
    const { v, fetches } = verifier(() => [current]);
    expect((await v.verify(await token(current, valid()))).ok).toBe(true);
    advance(9 * 60_000);
    expect((await v.verify(await token(current, fresh()))).ok).toBe(true);
    expect(fetches()).toBe(1);
    advance(2 * 60_000);
    expect((await v.verify(await token(current, fresh()))).ok).toBe(true);
    expect(fetches()).toBe(2);
  });

  it('refuses expired, not yet valid, wrong audience and wrong issuer tokens', async () => {
    const { v } = verifier(() => [current]);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...valid(), exp: NOW / 1000 - 120 }, 'expired'],
      [{ ...valid(), exp: undefined }, 'expired'],
      [{ ...valid(), exp: 'tomorrow' }, 'expired'],
      [{ ...valid(), nbf: NOW / 1000 + 120 }, 'not-yet-valid'],
      [{ ...valid(), aud: ['someone-else'] }, 'wrong-audience'],
      [{ ...valid(), aud: undefined }, 'wrong-audience'],
      [{ ...valid(), iss: 'https://evil.cloudflareaccess.com' }, 'wrong-issuer'],
      [{ ...valid(), iss: undefined }, 'wrong-issuer'],
    ];
    for (const [claims, reason] of cases) expect(await v.verify(await token(current, claims)), reason).toEqual({ ok: false, reason });
  });

  it('allows 30 s of clock skew on exp and nbf, and no more', async () => {
    const { v } = verifier(() => [current]);
    expect((await v.verify(await token(current, { ...valid(), exp: NOW / 1000 - 20 }))).ok).toBe(true);
    expect((await v.verify(await token(current, { ...valid(), nbf: NOW / 1000 + 20 }))).ok).toBe(true);
    expect(await v.verify(await token(current, { ...valid(), exp: NOW / 1000 - 40 }))).toEqual({ ok: false, reason: 'expired' });
    expect(await v.verify(await token(current, { ...valid(), nbf: NOW / 1000 + 40 }))).toEqual({ ok: false, reason: 'not-yet-valid' });
  });

  it('refuses a bad signature, another algorithm, garbage and a missing header', async () => {
    const { v } = verifier(() => [current]);
    const good = await token(current, valid());
    const [h, p] = good.split('.');
    const forgedPayload = b64url(JSON.stringify({ ...valid(), email: 'attacker@example.com' }));
    expect(await v.verify(`${h}.${forgedPayload}.${good.split('.')[2]}`)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(await v.verify(await token(rotated, valid(), { kid: 'key-1' }))).toEqual({ ok: false, reason: 'bad-signature' });
    for (const alg of ['HS256', 'RS384', 'PS256', 'ES256', 'none']) {
      expect(await v.verify(await token(current, valid(), { alg })), alg).toEqual({ ok: false, reason: 'unsupported-algorithm' });
    }
    expect(await v.verify(await token(current, valid(), { kid: undefined }))).toEqual({ ok: false, reason: 'unknown-key' });
    expect(await v.verify(`${h}.${p}`)).toEqual({ ok: false, reason: 'malformed' });
    expect(await v.verify('not.a.jwt!')).toEqual({ ok: false, reason: 'malformed' });
    expect(await v.verify(`${h}.${b64url('[1,2]')}.${good.split('.')[2]}`)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(await v.verify(await token(current, [1, 2]))).toEqual({ ok: false, reason: 'malformed' });
    expect(await v.verify(null)).toEqual({ ok: false, reason: 'missing' });
  });

  it('refetches the JWKS for an unknown key id (rotation), but not more than every 30 s', async () => {
    let published = [current];
    const { v, fetches } = verifier(() => published);
    expect((await v.verify(await token(current, valid()))).ok).toBe(true);
    published = [current, rotated];
    expect(await v.verify(await token(rotated, valid()))).toEqual({ ok: false, reason: 'unknown-key' });
    expect(fetches()).toBe(1);
    advance(31_000);
    expect((await v.verify(await token(rotated, fresh()))).ok).toBe(true);
    expect(fetches()).toBe(2);
    expect(await v.verify(await token(await signer('key-3'), fresh()))).toEqual({ ok: false, reason: 'unknown-key' });
    expect(fetches()).toBe(2);
  });

  for (const outage of ['status', 'network', 'not-a-key-set'] as const) {
    it(`answers keys-unavailable when the JWKS fetch fails (${outage}), does not refetch for 30 s, then does`, async () => {
      const { v, endpoint, fetches } = verifier(() => [current]);
      endpoint.outage = outage;
      const first = await v.verify(await token(current, valid()));
      expect(first).toMatchObject({ ok: false, reason: 'keys-unavailable' });
      expect(!first.ok && first.detail).toContain(`the JWKS fetch from ${TEAM}/cdn-cgi/access/certs failed`);
      expect(fetches()).toBe(1);
      endpoint.outage = 'none';
      advance(29_000);
      expect(await v.verify(await token(current, fresh()))).toMatchObject({ ok: false, reason: 'keys-unavailable' });
      expect(fetches()).toBe(1);
      advance(2_000);
      expect((await v.verify(await token(current, fresh()))).ok).toBe(true);
      expect(fetches()).toBe(2);
    });
  }

  it('keeps verifying with the cached keys when a refetch for an unknown key id fails', async () => {
    const { v, endpoint, fetches } = verifier(() => [current]);
    expect((await v.verify(await token(current, valid()))).ok).toBe(true);
    advance(31_000);
    endpoint.outage = 'network';
    expect(await v.verify(await token(rotated, fresh()))).toMatchObject({ ok: false, reason: 'keys-unavailable' });
    expect(fetches()).toBe(2);
    expect((await v.verify(await token(current, fresh()))).ok).toBe(true);
    expect(await v.verify(await token(rotated, fresh()))).toMatchObject({ ok: false, reason: 'keys-unavailable' });
    expect(fetches()).toBe(2);
  });
});
