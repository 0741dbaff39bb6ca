import { beforeAll, describe, expect, it } from 'vitest';
import { createAccessVerifier } from '../../src/admin/access-jwt.ts';

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

async function token(s: Signer, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
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

function verifier(published: () => Signer[], clock = { now: NOW }) {
  let fetches = 0;
  const v = createAccessVerifier(
    { teamDomain: TEAM, audience: AUD },
    {
      fetchJwks: async (url) => {
        expect(url).toBe(`${TEAM}/cdn-cgi/access/certs`);
        fetches++;
        return { keys: published().map((s) => ({ ...s.jwk, kid: s.kid, kty: 'RSA' })) };
      },
      now: () => clock.now,
    },
  );
  return { v, fetches: () => fetches, clock };
}

describe('Cloudflare Access JWT verification', () => {
  it('accepts a valid token and caches the keys', async () => {
    const { v, fetches } = verifier(() => [current]);
    expect(await v.verify(await token(current, valid()))).toMatchObject({ ok: true, claims: { email: 'ops@example.com' } });
    expect(await v.verify(await token(current, valid()))).toMatchObject({ ok: true });
    expect(fetches()).toBe(1);
  });

  it('refuses expired, not yet valid, wrong audience and wrong issuer tokens', async () => {
    const { v } = verifier(() => [current]);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...valid(), exp: NOW / 1000 - 120 }, 'expired'],
      [{ ...valid(), exp: undefined }, 'expired'],
      [{ ...valid(), nbf: NOW / 1000 + 120 }, 'not-yet-valid'],
      [{ ...valid(), aud: ['someone-else'] }, 'wrong-audience'],
      [{ ...valid(), iss: 'https://evil.cloudflareaccess.com' }, 'wrong-issuer'],
    ];
    for (const [claims, reason] of cases) expect(await v.verify(await token(current, claims)), reason).toEqual({ ok: false, reason });
  });

  it('refuses a bad signature, another algorithm, garbage and a missing header', async () => {
    const { v } = verifier(() => [current]);
    const good = await token(current, valid());
    const [h, p] = good.split('.');
    const forgedPayload = b64url(JSON.stringify({ ...valid(), email: 'attacker@example.com' }));
    expect(await v.verify(`${h}.${forgedPayload}.${good.split('.')[2]}`)).toEqual({ ok: false, reason: 'bad-signature' });
    expect(await v.verify(await token(rotated, valid(), { kid: 'key-1' }))).toEqual({ ok: false, reason: 'bad-signature' });
    expect(await v.verify(await token(current, valid(), { alg: 'HS256' }))).toEqual({ ok: false, reason: 'unsupported-algorithm' });
    expect(await v.verify(`${h}.${p}`)).toEqual({ ok: false, reason: 'malformed' });
    expect(await v.verify('not.a.jwt!')).toEqual({ ok: false, reason: 'malformed' });
    expect(await v.verify(null)).toEqual({ ok: false, reason: 'missing' });
  });

  it('refetches the JWKS for an unknown key id (rotation), but not more than every 30 s', async () => {
    let published = [current];
    const { v, fetches, clock } = verifier(() => published);
    expect((await v.verify(await token(current, valid()))).ok).toBe(true);
    published = [current, rotated];
    expect(await v.verify(await token(rotated, valid()))).toEqual({ ok: false, reason: 'unknown-key' });
    expect(fetches()).toBe(1);
    clock.now += 31_000;
    expect((await v.verify(await token(rotated, { ...valid(), exp: clock.now / 1000 + 300 }))).ok).toBe(true);
    expect(fetches()).toBe(2);
    expect(await v.verify(await token(await signer('key-3'), valid()))).toEqual({ ok: false, reason: 'unknown-key' });
  });
});
