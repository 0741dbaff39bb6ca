/**
 * The dashboard's development sign-in: the development admin token, typed once into the login form, becomes a
 * session cookie (HttpOnly, SameSite=Strict, scoped to /admin) that the browser sends instead of the token. The
 * cookie is `<expiry seconds>.<HMAC-SHA256 of it>` keyed by the admin token itself, so it holds no secret, needs no
 * storage, is valid in every isolate, and dies with the token: changing `admin.token` signs everyone out.
 * Production never accepts it (authorize.ts), as it never accepts the token.
 */
import { decodeBase64url, encodeBase64url } from '../crypto/encoding.ts';
import { timingSafeEqualText } from '../s3/sigv4.ts';

export const SESSION_COOKIE = 's3o_session';
export const SESSION_TTL_SECONDS = 12 * 60 * 60;
const LABEL = 's3o-dashboard-session-v1|';

async function mac(token: string, expires: number): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(token), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return encodeBase64url(new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`${LABEL}${expires}`))));
}

/** The Set-Cookie value that signs a browser in until now + SESSION_TTL_SECONDS. */
export async function sessionCookie(token: string, nowMs: number, secure: boolean): Promise<string> {
  const expires = Math.floor(nowMs / 1000) + SESSION_TTL_SECONDS;
  return cookie(`${expires}.${await mac(token, expires)}`, SESSION_TTL_SECONDS, secure);
}

/** The Set-Cookie value that signs a browser out. */
export function clearedSessionCookie(secure: boolean): string {
  return cookie('', 0, secure);
}

function cookie(value: string, maxAge: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/admin; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/** The session cookie's value from a Cookie header, if any. */
export function sessionFromCookies(header: string | null): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=');
  }
  return undefined;
}

/** Whether the cookie value was issued for `token` and has not expired. */
export async function validSession(value: string, token: string, nowMs: number): Promise<boolean> {
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!match || !decodeBase64url(match[2]!)) return false;
  const expires = Number(match[1]);
  if (expires * 1000 <= nowMs) return false;
  return timingSafeEqualText(match[2]!, await mac(token, expires));
}
