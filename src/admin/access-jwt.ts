/**
 * Verifying Cloudflare Access's `Cf-Access-Jwt-Assertion`: RS256 with keys from the team's JWKS
 * (`https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`), cached and refetched when a token names an
 * unknown key id; `aud`, `iss`, `exp` and `nbf` checked.
 * https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/validating-json/
 * This is the first piece of the admin API (issue 4); the routes that use it come with that issue.
 */
import { decodeBase64url } from '../crypto/encoding.ts';

export interface AccessSettings {
  /** `https://<team>.cloudflareaccess.com`: the tokens' issuer and the home of the JWKS. */
  teamDomain: string;
  /** The Access application's audience tag. */
  audience: string;
}

export type AccessFailure =
  | 'missing'
  | 'malformed'
  | 'unsupported-algorithm'
  | 'unknown-key'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-audience'
  | 'wrong-issuer';

export type AccessResult = { ok: true; claims: AccessClaims } | { ok: false; reason: AccessFailure };

export interface AccessClaims {
  sub?: string;
  email?: string;
  /** Service tokens carry their client id here instead of an email. */
  common_name?: string;
  [claim: string]: unknown;
}

interface Jwk {
  kid?: string;
  kty?: string;
  alg?: string;
  n?: string;
  e?: string;
}

export interface AccessVerifierDeps {
  fetchJwks(url: string): Promise<{ keys?: Jwk[] }>;
  now(): number;
}

/** Clock leeway for exp/nbf, in seconds. */
const LEEWAY_SECONDS = 30;
const JWKS_TTL_MS = 10 * 60_000;
/** An unknown kid refetches the JWKS at most this often, so random kids cannot turn into a fetch storm. */
const REFETCH_INTERVAL_MS = 30_000;

interface KeyCache {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
}

export function createAccessVerifier(settings: AccessSettings, deps: AccessVerifierDeps) {
  const issuer = settings.teamDomain.replace(/\/+$/, '');
  const jwksUrl = `${issuer}/cdn-cgi/access/certs`;
  let cache: KeyCache | undefined;

  async function load(): Promise<KeyCache> {
    const document = await deps.fetchJwks(jwksUrl);
    const keys = new Map<string, CryptoKey>();
    for (const jwk of document.keys ?? []) {
      if (jwk.kty !== 'RSA' || !jwk.kid || !jwk.n || !jwk.e) continue;
      const key = await crypto.subtle.importKey(
        'jwk',
        { kty: 'RSA', n: jwk.n, e: jwk.e, alg: 'RS256', ext: true },
        { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
        false,
        ['verify'],
      );
      keys.set(jwk.kid, key);
    }
    cache = { keys, fetchedAt: deps.now() };
    return cache;
  }

  async function keyFor(kid: string): Promise<CryptoKey | undefined> {
    const now = deps.now();
    let current = cache && now - cache.fetchedAt < JWKS_TTL_MS ? cache : await load();
    let key = current.keys.get(kid);
    // A key rotated in since the last fetch: look again, but not more often than the interval.
    if (!key && now - current.fetchedAt >= REFETCH_INTERVAL_MS) {
      current = await load();
      key = current.keys.get(kid);
    }
    return key;
  }

  return {
    async verify(token: string | null): Promise<AccessResult> {
      if (!token) return { ok: false, reason: 'missing' };
      const parts = token.split('.');
      if (parts.length !== 3) return { ok: false, reason: 'malformed' };
      const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
      const header = decodeJson(headerPart);
      const claims = decodeJson(payloadPart);
      const signature = decodeBase64url(signaturePart);
      if (!header || !claims || !signature) return { ok: false, reason: 'malformed' };
      if (header.alg !== 'RS256') return { ok: false, reason: 'unsupported-algorithm' };
      if (typeof header.kid !== 'string') return { ok: false, reason: 'unknown-key' };
      const key = await keyFor(header.kid);
      if (!key) return { ok: false, reason: 'unknown-key' };
      const signed = new TextEncoder().encode(`${headerPart}.${payloadPart}`);
      if (!(await crypto.subtle.verify('RSASSA-PKCS1-v1_5', key, signature, signed))) return { ok: false, reason: 'bad-signature' };
      const nowSeconds = deps.now() / 1000;
      if (typeof claims.exp !== 'number' || claims.exp + LEEWAY_SECONDS < nowSeconds) return { ok: false, reason: 'expired' };
      if (typeof claims.nbf === 'number' && claims.nbf - LEEWAY_SECONDS > nowSeconds) return { ok: false, reason: 'not-yet-valid' };
      const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      if (!audiences.includes(settings.audience)) return { ok: false, reason: 'wrong-audience' };
      if (claims.iss !== issuer) return { ok: false, reason: 'wrong-issuer' };
      return { ok: true, claims: claims as AccessClaims };
    },
  };
}

function decodeJson(part: string): Record<string, unknown> | undefined {
  const bytes = decodeBase64url(part);
  if (!bytes) return undefined;
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
