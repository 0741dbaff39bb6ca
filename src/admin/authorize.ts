/**
 * Who may use the admin API: a request that Cloudflare Access let through (its `Cf-Access-Jwt-Assertion`
 * verified here too, so the Worker never trusts a route that bypasses Access), or, only in a Worker started as
 * development (S3O_ENVIRONMENT=development, which the local launcher sets), the configured development token as
 * `Authorization: Bearer <token>`. Nothing else reaches an admin route.
 */
import type { AdminConfig } from '../config/types.ts';
import { timingSafeEqualText } from '../s3/sigv4.ts';
import { type AccessFailure, type AccessResult, createAccessVerifier } from './access-jwt.ts';

export type AdminCaller = { kind: 'access'; identity: string } | { kind: 'token' };
export type Authorization = { ok: true; caller: AdminCaller } | { ok: false; status: 401 | 403 | 503; error: string };

let verifierFor: { key: string; verifier: ReturnType<typeof createAccessVerifier> } | undefined;

/** One verifier (and so one JWKS cache) per isolate and Access setting. */
function accessVerifier(access: NonNullable<AdminConfig['access']>) {
  const key = `${access.teamDomain}\n${access.audience}`;
  if (verifierFor?.key !== key) {
    verifierFor = {
      key,
      verifier: createAccessVerifier(access, {
        fetchJwks: async (url) => {
          const response = await fetch(url);
          if (!response.ok) throw new Error(`JWKS fetch from ${url} answered ${response.status}`);
          return response.json();
        },
        now: () => Date.now(),
      }),
    };
  }
  return verifierFor.verifier;
}

const REASONS: Record<AccessFailure, string> = {
  missing: 'missing Cf-Access-Jwt-Assertion',
  malformed: 'the Access token is malformed',
  'unsupported-algorithm': 'the Access token is not RS256',
  'unknown-key': 'the Access token was signed by an unknown key',
  'bad-signature': 'the Access token signature is invalid',
  expired: 'the Access token has expired',
  'not-yet-valid': 'the Access token is not valid yet',
  'wrong-audience': 'the Access token is for another application',
  'wrong-issuer': 'the Access token is from another team',
};

export async function authorizeAdmin(request: Request, admin: AdminConfig, environment: string | undefined): Promise<Authorization> {
  const assertion = request.headers.get('cf-access-jwt-assertion');
  const bearer = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
  if (assertion !== null) {
    if (!admin.access) return { ok: false, status: 403, error: 'Cloudflare Access is not configured for the admin API (admin.access)' };
    let result: AccessResult;
    try {
      result = await accessVerifier(admin.access).verify(assertion);
    } catch (err) {
      // Access's signing keys could not be fetched: nobody can be verified now, which is not the caller's fault.
      const why = err instanceof Error ? err.message : String(err);
      return { ok: false, status: 503, error: `cannot verify the Access token now: the team's signing keys could not be fetched (${why}); retry shortly` };
    }
    if (!result.ok) return { ok: false, status: 403, error: REASONS[result.reason] };
    const identity = String(result.claims.email ?? result.claims.common_name ?? result.claims.sub ?? 'unknown');
    return { ok: true, caller: { kind: 'access', identity } };
  }
  if (bearer !== undefined) {
    // Fail closed: a Worker deployed without saying what it is (a plain `wrangler deploy`) is treated as production.
    if (environment !== 'development') {
      return { ok: false, status: 403, error: 'the admin token is refused in production (only S3O_ENVIRONMENT=development accepts it); use Cloudflare Access' };
    }
    if (!admin.token || !timingSafeEqualText(bearer, admin.token)) return { ok: false, status: 403, error: 'invalid admin token' };
    return { ok: true, caller: { kind: 'token' } };
  }
  return { ok: false, status: 401, error: 'authentication required: Cloudflare Access (Cf-Access-Jwt-Assertion) or, in development, Authorization: Bearer <admin token>' };
}
