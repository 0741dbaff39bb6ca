/**
 * Verifying Cloudflare Access's `Cf-Access-Jwt-Assertion` with `jose`: RS256 only, keys from the team's JWKS
 * (`https://<team>.cloudflareaccess.com/cdn-cgi/access/certs`), `aud`, `iss`, `exp` and `nbf` checked.
 * https://developers.cloudflare.com/cloudflare-one/identity/authorization-cookie/validating-json/
 *
 * jose's remote key set caches the JWKS for 10 minutes and refetches it when a token names an unknown key id, at
 * most every 30 s (its `cooldownDuration`). That cooldown starts only after a successful fetch: after a failed one
 * jose fetches again on the very next token. So the fetch it is given is wrapped here: once a fetch fails (network
 * error, timeout, a status other than 200, a body that is not a key set), no fetch is tried for
 * FETCH_FAILURE_COOLDOWN_MS and tokens that need the keys answer `keys-unavailable` at once, so an outage at Access
 * does not turn every admin request into another request to it.
 *
 * Time is `Date.now()`: jose's remote set ages its cache and its cooldown by `Date.now()` and takes no clock, so
 * this module reads the same one rather than a second, injected clock (tests move it with `vi.setSystemTime`).
 */
import { createRemoteJWKSet, customFetch, errors, type FetchImplementation, type JWTVerifyGetKey, jwtVerify } from 'jose';

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
  | 'wrong-issuer'
  /** The team's JWKS could not be fetched (or is cooling down after a failed fetch): nobody can be verified now. */
  | 'keys-unavailable';

/** `detail` says why, for `keys-unavailable` (which fetch failed, and how). */
export type AccessResult = { ok: true; claims: AccessClaims } | { ok: false; reason: AccessFailure; detail?: string };

export interface AccessClaims {
  sub?: string;
  email?: string;
  /** Service tokens carry their client id here instead of an email. */
  common_name?: string;
  [claim: string]: unknown;
}

export interface AccessVerifierDeps {
  /** Fetches the JWKS; the global `fetch` unless given (tests give a fake Access endpoint). */
  fetch?: typeof fetch;
}

/** Clock leeway for exp/nbf, in seconds. */
const LEEWAY_SECONDS = 30;
/** How long the JWKS is trusted before it is fetched again. */
const JWKS_MAX_AGE_MS = 10 * 60_000;
/** An unknown kid refetches the JWKS at most this often, so random kids cannot turn into a fetch storm. */
const UNKNOWN_KID_COOLDOWN_MS = 30_000;
/** After a failed JWKS fetch, none is tried for this long. */
export const FETCH_FAILURE_COOLDOWN_MS = 30_000;

/** Thrown by the wrapped fetch and the key lookup; jose passes it through untouched. */
class KeysUnavailable extends Error {
  override name = 'KeysUnavailable';
}

interface TeamKeys {
  /** jose's remote set: the cache, the unknown-kid refetch and its cooldown. */
  keySet: JWTVerifyGetKey;
  /** No JWKS fetch before this time (ms since the epoch), because the last one failed; 0 when it did not. */
  retryAfter: number;
  /** Why the last fetch failed. */
  lastFailure: string;
}

/**
 * The key sets of this isolate, one per team domain, so every verifier (and every request) shares one JWKS cache
 * and one cooldown. The first verifier of a team supplies its fetch.
 */
const teams = new Map<string, TeamKeys>();

/** Forgets every cached JWKS and cooldown (tests). */
export function resetAccessKeySets(): void {
  teams.clear();
}

function teamKeys(issuer: string, fetchImpl: typeof fetch): TeamKeys {
  let team = teams.get(issuer);
  if (team) return team;
  const url = `${issuer}/cdn-cgi/access/certs`;
  const state: Omit<TeamKeys, 'keySet'> = { retryAfter: 0, lastFailure: '' };
  const fetchKeySet: FetchImplementation = async (href, init) => {
    if (Date.now() < state.retryAfter) {
      throw new KeysUnavailable(`${state.lastFailure}; not retried before ${new Date(state.retryAfter).toISOString()}`);
    }
    try {
      const response = await fetchImpl(href, init);
      if (response.status !== 200) throw new Error(`answered ${response.status}`);
      const body: unknown = await response.json();
      if (!isKeySet(body)) throw new Error('answered something other than a JSON Web Key Set');
      return Response.json(body);
    } catch (err) {
      state.retryAfter = Date.now() + FETCH_FAILURE_COOLDOWN_MS;
      state.lastFailure = `the JWKS fetch from ${url} failed: ${err instanceof Error ? err.message : String(err)}`;
      throw new KeysUnavailable(state.lastFailure, { cause: err });
    }
  };
  const keySet = createRemoteJWKSet(new URL(url), {
    cacheMaxAge: JWKS_MAX_AGE_MS,
    cooldownDuration: UNKNOWN_KID_COOLDOWN_MS,
    [customFetch]: fetchKeySet,
  });
  team = Object.assign(state, { keySet });
  teams.set(issuer, team);
  return team;
}

function isKeySet(body: unknown): boolean {
  if (body === null || typeof body !== 'object' || !('keys' in body) || !Array.isArray(body.keys)) return false;
  return body.keys.every((key: unknown) => key !== null && typeof key === 'object' && !Array.isArray(key));
}

export function createAccessVerifier(settings: AccessSettings, deps: AccessVerifierDeps = {}) {
  const issuer = settings.teamDomain.replace(/\/+$/, '');
  // The global fetch is looked up at each call, not captured here.
  const fetchImpl = deps.fetch ?? ((input, init) => fetch(input, init));

  /** jose calls this after the algorithm check and before the signature check. */
  const keyFor: JWTVerifyGetKey = async (header, token) => {
    // Access always names its key; a token without a kid is not one of its tokens.
    if (typeof header.kid !== 'string') throw new errors.JWKSNoMatchingKey();
    try {
      return await teamKeys(issuer, fetchImpl).keySet(header, token);
    } catch (err) {
      if (err instanceof KeysUnavailable || err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      // The key set was fetched but its key for this kid cannot be imported: the team's keys are not usable now.
      throw new KeysUnavailable(`the team's key ${header.kid} cannot be used: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };

  return {
    async verify(token: string | null): Promise<AccessResult> {
      if (!token) return { ok: false, reason: 'missing' };
      try {
        const { payload } = await jwtVerify<AccessClaims>(token, keyFor, {
          algorithms: ['RS256'],
          audience: settings.audience,
          issuer,
          requiredClaims: ['exp'],
          clockTolerance: LEEWAY_SECONDS,
        });
        return { ok: true, claims: payload };
      } catch (err) {
        if (err instanceof KeysUnavailable) return { ok: false, reason: 'keys-unavailable', detail: err.message };
        return { ok: false, reason: failureOf(err) };
      }
    },
  };
}

/** jose's error classes onto our reasons; anything else is a bug here or in jose, and is thrown on. */
function failureOf(err: unknown): AccessFailure {
  if (err instanceof errors.JWTExpired) return 'expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'exp': // missing or not a number
        return 'expired';
      case 'nbf':
        return 'not-yet-valid';
      case 'aud':
        return 'wrong-audience';
      case 'iss':
        return 'wrong-issuer';
      default:
        return 'malformed';
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return 'unsupported-algorithm';
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return 'unknown-key';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad-signature';
  // JWSInvalid, JWTInvalid (not three base64url parts, not JSON, no alg), JOSENotSupported (an unknown `crit`).
  if (err instanceof errors.JOSEError) return 'malformed';
  throw err;
}
