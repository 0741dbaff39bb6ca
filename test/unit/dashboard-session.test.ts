/**
 * The dashboard's door: the development sign-in and its session cookie (accepted only where the development token
 * is, dead when it expires or the token changes, not forgeable), the page's redirects and security headers, and the
 * sign-in refused cross-site. The assets binding is a stand-in here; the end-to-end test serves the real bundle.
 */
import { describe, expect, it } from 'vitest';
import { authorizeAdmin } from '../../src/admin/authorize.ts';
import { SESSION_TTL_SECONDS, sessionCookie, sessionFromCookies, validSession } from '../../src/admin/session.ts';
import { createLogger } from '../../src/observe/log.ts';
import { type DashboardContext, handleDashboard } from '../../src/ui/routes.ts';
import { diffLines } from '../../src/ui/browser/diff.ts';

const TOKEN = 'dev-admin-token-0123456789';
const NOW = Date.UTC(2026, 11, 4, 12);
const ORIGIN = 'http://127.0.0.1:8787';

function context(environment = 'development'): DashboardContext {
  return {
    admin: { access: undefined, token: TOKEN },
    environment,
    assets: { fetch: async (request) => new Response(`asset ${new URL(request.url).pathname}`, { headers: { 'content-type': 'text/javascript' } }) },
    log: createLogger('error'),
    now: () => NOW,
  };
}

async function signedInCookie(): Promise<string> {
  const set = await sessionCookie(TOKEN, NOW, false);
  return set.split(';')[0]!;
}

const get = (path: string, headers: Record<string, string> = {}) => new Request(`${ORIGIN}${path}`, { headers });
const signIn = (body: unknown, headers: Record<string, string> = {}) =>
  new Request(`${ORIGIN}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN, ...headers }, body: JSON.stringify(body) });

describe('the session cookie', () => {
  it('is HttpOnly, SameSite=Strict, scoped to /admin, Secure over HTTPS, and valid for its lifetime only', async () => {
    const set = await sessionCookie(TOKEN, NOW, true);
    expect(set).toMatch(/^s3o_session=\d+\.[A-Za-z0-9_-]{43}; Path=\/admin; Max-Age=43200; HttpOnly; SameSite=Strict; Secure$/);
    const value = sessionFromCookies(`other=1; ${set.split(';')[0]}`)!;
    expect(await validSession(value, TOKEN, NOW)).toBe(true);
    expect(await validSession(value, TOKEN, NOW + SESSION_TTL_SECONDS * 1000 - 1000)).toBe(true);
    expect(await validSession(value, TOKEN, NOW + SESSION_TTL_SECONDS * 1000)).toBe(false);
  });

  it('dies with the token, and cannot be extended or forged', async () => {
    const value = sessionFromCookies((await signedInCookie()))!;
    expect(await validSession(value, 'another-token-0123456789', NOW)).toBe(false);
    const [expiry, mac] = value.split('.');
    expect(await validSession(`${Number(expiry) + 3600}.${mac}`, TOKEN, NOW)).toBe(false);
    expect(await validSession(`${expiry}.${'A'.repeat(43)}`, TOKEN, NOW)).toBe(false);
    for (const junk of ['', '.', 'x.y', `${expiry}`, `${expiry}.${mac}.x`, `-1.${mac}`]) expect(await validSession(junk, TOKEN, NOW), junk).toBe(false);
  });

  it('opens the admin API in development only', async () => {
    const cookie = await signedInCookie();
    const request = get('/admin/api/status', { cookie });
    expect(await authorizeAdmin(request, { access: undefined, token: TOKEN }, 'development', NOW)).toEqual({ ok: true, caller: { kind: 'session' } });
    expect(await authorizeAdmin(request, { access: undefined, token: TOKEN }, 'production', NOW)).toMatchObject({ ok: false, status: 403 });
    expect(await authorizeAdmin(request, { access: undefined, token: 'rotated-token-0123456789' }, 'development', NOW)).toMatchObject({ ok: false, status: 401 });
  });
});

describe('the dashboard routes', () => {
  it('sends a browser without a session to the sign-in form in development, and refuses it in production', async () => {
    const dev = await handleDashboard(get('/admin/'), context());
    expect(dev.status).toBe(303);
    expect(dev.headers.get('location')).toBe('/admin/login');
    const prod = await handleDashboard(get('/admin/'), context('production'));
    expect(prod.status).toBe(401);
    expect(prod.headers.get('content-type')).toContain('text/html');
    expect((await handleDashboard(get('/admin/login'), context('production'))).status).toBe(404);
  });

  it('serves the page to a signed-in browser with a strict CSP and no framing', async () => {
    const page = await handleDashboard(get('/admin/', { cookie: await signedInCookie() }), context());
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) expect(csp).toContain(directive);
    expect(csp).not.toContain('unsafe');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/admin/assets/dashboard.js">');
    expect(html).not.toMatch(/<script>|style="/);
  });

  it('signs in with the right token only, and only from its own origin with JSON', async () => {
    const ok = await handleDashboard(signIn({ token: TOKEN }), context());
    expect(ok.status).toBe(204);
    expect(ok.headers.get('set-cookie')).toMatch(/^s3o_session=.*HttpOnly; SameSite=Strict$/);
    expect((await handleDashboard(signIn({ token: 'wrong-token-0123456789' }), context())).status).toBe(403);
    expect((await handleDashboard(signIn({ token: 42 }), context())).status).toBe(403);
    expect((await handleDashboard(signIn({ token: TOKEN }), { ...context(), admin: { access: undefined, token: undefined } })).status).toBe(403);
    expect((await handleDashboard(signIn({ token: TOKEN }), context('production'))).status).toBe(403);
    expect((await handleDashboard(signIn({ token: TOKEN }, { origin: 'http://127.0.0.1:9999' }), context())).status).toBe(403);
    expect((await handleDashboard(signIn({ token: TOKEN }, { 'sec-fetch-site': 'cross-site' }), context())).status).toBe(403);
    const form = new Request(`${ORIGIN}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}` });
    expect((await handleDashboard(form, context())).status).toBe(415);
    const notJson = new Request(`${ORIGIN}/admin/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect((await handleDashboard(notJson, context())).status).toBe(400);
  });

  it('signs out by clearing the cookie, refusing a cross-site sign-out', async () => {
    const out = await handleDashboard(new Request(`${ORIGIN}/admin/logout`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }), context());
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toContain('Max-Age=0');
    const cross = new Request(`${ORIGIN}/admin/logout`, { method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' }, body: '{}' });
    expect((await handleDashboard(cross, context())).status).toBe(403);
  });

  it('serves assets with nosniff, and answers unknown pages with 404', async () => {
    const asset = await handleDashboard(get('/admin/assets/dashboard.js'), context());
    expect(await asset.text()).toBe('asset /admin/assets/dashboard.js');
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await handleDashboard(get('/admin/assets/x.js'), { ...context(), assets: undefined })).status).toBe(404);
    expect((await handleDashboard(get('/admin/elsewhere'), context())).status).toBe(404);
    expect((await handleDashboard(new Request(`${ORIGIN}/admin/`, { method: 'POST' }), context())).status).toBe(405);
  });
});

describe('the configuration diff view', () => {
  it('keeps common lines and marks the rest', () => {
    expect(diffLines('a\nb\nc', 'a\nx\nc\nd')).toEqual([
      { kind: 'same', text: 'a' },
      { kind: 'added', text: 'x' },
      { kind: 'removed', text: 'b' },
      { kind: 'same', text: 'c' },
      { kind: 'added', text: 'd' },
    ]);
    expect(diffLines('', 'a')).toEqual([
      { kind: 'added', text: 'a' },
      { kind: 'removed', text: '' },
    ]);
  });
});
