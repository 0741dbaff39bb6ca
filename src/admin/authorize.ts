/**
 * Who may use the admin API: a request that Cloudflare Access let through (its `Cf-Access-Jwt-Assertion`
 * verified here too, so the Worker never trusts a route that bypasses Access), or, only in a Worker started as
 * development (S3O_ENVIRONMENT=development, which the local launcher sets), the configured development token as
 * `Authorization: Bearer <token>`, or the dashboard's session cookie that token signed (session.ts). Nothing else
 * reaches an admin route.
 */
import type { AdminConfig } from '../config/types.ts';
import { timingSafeEqualText } from '../s3/sigv4.ts';
import { type AccessFailure, createAccessVerifier } from './access-jwt.ts';
import { sessionFromCookies, validSession } from './session.ts';

export type AdminCaller = { kind: 'access'; identity: string } | { kind: 'token' } | { kind: 'session' };
export type Authorization = { ok: true; caller: AdminCaller } | { ok: false; status: 401 | 403 | 503; error: string };

/** Why the caller's Access token is refused (403), by the verifier's reason. */
const ACCESS_REFUSED: Record<Exclude<AccessFailure, 'keys-unavailable'>, string> = {
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

/**
 * The one place an Access failure becomes an answer: the caller's token is refused (403), but keys that cannot be
 * fetched are not the caller's fault and pass (503, retry shortly).
 */
function accessRefusal(reason: AccessFailure, detail: string | undefined): { status: 403 | 503; error: string } {
  if (reason !== 'keys-unavailable') return { status: 403, error: ACCESS_REFUSED[reason] };
  return {
    status: 503,
    error: `cannot verify the Access token now: the team's signing keys could not be fetched${detail ? ` (${detail})` : ''}; retry shortly`,
  };
}

const PRODUCTION_REFUSAL = 'the admin token is refused in production (only S3O_ENVIRONMENT=development accepts it); use Cloudflare Access';

export async function authorizeAdmin(request: Request, admin: AdminConfig, environment: string | undefined, nowMs = Date.now()): Promise<Authorization> {
  const assertion = request.headers.get('cf-access-jwt-assertion');
  const bearer = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
  const session = sessionFromCookies(request.headers.get('cookie'));
  if (assertion !== null) {
    if (!admin.access) return { ok: false, status: 403, error: 'Cloudflare Access is not configured for the admin API (admin.access)' };
    // The verifier keeps no state of its own: the JWKS cache and its cooldown are per team domain in access-jwt.ts.
    const result = await createAccessVerifier(admin.access).verify(assertion);
    if (!result.ok) return { ok: false, ...accessRefusal(result.reason, result.detail) };
    const identity = String(result.claims.email ?? result.claims.common_name ?? result.claims.sub ?? 'unknown');
    return { ok: true, caller: { kind: 'access', identity } };
  }
  if (bearer !== undefined) {
    // Fail closed: a Worker deployed without saying what it is (a plain `wrangler deploy`) is treated as production.
    if (environment !== 'development') return { ok: false, status: 403, error: PRODUCTION_REFUSAL };
    if (!admin.token || !timingSafeEqualText(bearer, admin.token)) return { ok: false, status: 403, error: 'invalid admin token' };
    return { ok: true, caller: { kind: 'token' } };
  }
  if (session !== undefined && session !== '') {
    if (environment !== 'development') return { ok: false, status: 403, error: PRODUCTION_REFUSAL };
    if (!admin.token || !(await validSession(session, admin.token, nowMs))) {
      return { ok: false, status: 401, error: 'the dashboard session has expired or was signed out; sign in again' };
    }
    return { ok: true, caller: { kind: 'session' } };
  }
  return { ok: false, status: 401, error: 'authentication required: Cloudflare Access (Cf-Access-Jwt-Assertion) or, in development, Authorization: Bearer <admin token>' };
}
