/**
 * The dashboard's own routes under /admin (its data comes from /admin/api): the page, the development sign-in and
 * sign-out, and the bundled assets. The page is shown to whoever the admin API would answer (Cloudflare Access in
 * production; in development the session cookie the sign-in sets). Every page carries a strict CSP.
 */
import { type AdminConfig } from '../config/types.ts';
import type { Logger } from '../observe/log.ts';
import { authorizeAdmin } from '../admin/authorize.ts';
import { json, readJsonObject } from '../admin/http.ts';
import { refuseCrossSiteChange } from '../admin/request-guard.ts';
import { clearedSessionCookie, sessionCookie } from '../admin/session.ts';
import { timingSafeEqualText } from '../s3/sigv4.ts';
import { DASHBOARD_PAGE, LOGIN_PAGE, messagePage } from './pages.ts';

export interface DashboardContext {
  admin: AdminConfig;
  environment: string | undefined;
  assets: { fetch(request: Request): Promise<Response> } | undefined;
  log: Logger;
  now(): number;
}

/**
 * Scripts and styles only from this origin, no inline code, no frames, no plugins; data only from the admin API.
 * Downloads are separate responses with their own sandboxing CSP (src/admin/object-routes.ts).
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': DASHBOARD_CSP,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-store',
};

export async function handleDashboard(request: Request, context: DashboardContext): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path.startsWith('/admin/assets/') && request.method === 'GET') return asset(request, context);
  if (path === '/admin' || path === '/admin/') return request.method === 'GET' ? dashboardPage(request, context) : json(405, { error: 'the dashboard page is only read (GET)' });
  if (path === '/admin/login') return request.method === 'POST' ? signIn(request, context) : request.method === 'GET' ? loginPage(context) : json(405, { error: 'sign in with POST /admin/login' });
  if (path === '/admin/logout' && request.method === 'POST') return signOut(request);
  return page(404, messagePage('Not found', `There is no dashboard page at ${path}. The dashboard is at /admin/.`));
}

function page(status: number, html: string, extra: Record<string, string> = {}): Response {
  return new Response(html, { status, headers: { ...PAGE_HEADERS, ...extra } });
}

function development(context: DashboardContext): boolean {
  return context.environment === 'development';
}

async function dashboardPage(request: Request, context: DashboardContext): Promise<Response> {
  const auth = await authorizeAdmin(request, context.admin, context.environment, context.now());
  if (auth.ok) return page(200, DASHBOARD_PAGE);
  // In development the sign-in form is the way in; in production only Access can let a browser through.
  if (development(context) && auth.status === 401) return new Response(null, { status: 303, headers: { location: '/admin/login', 'cache-control': 'no-store' } });
  return page(auth.status, messagePage('Sign-in required', `${auth.error}.`));
}

function loginPage(context: DashboardContext): Response {
  if (!development(context)) return page(404, messagePage('Not here', 'In production the dashboard signs in through Cloudflare Access; open /admin/.'));
  return page(200, LOGIN_PAGE);
}

/** Body `{"token": "..."}`: the development admin token, exchanged for the session cookie. */
async function signIn(request: Request, context: DashboardContext): Promise<Response> {
  const refused = refuseCrossSiteChange(request);
  if (refused) return refused;
  if (!development(context)) return json(403, { error: 'the development sign-in is refused in production; the dashboard signs in through Cloudflare Access' });
  const body = await readJsonObject(request, '{"token": "<admin.token>"}');
  if (!body.ok) return body.response;
  const token = body.value.token;
  if (typeof token !== 'string' || !context.admin.token || !timingSafeEqualText(token, context.admin.token)) {
    context.log.warn('dashboard sign-in refused', { reason: 'invalid admin token' });
    return json(403, { error: 'invalid admin token' });
  }
  const cookie = await sessionCookie(context.admin.token, context.now(), secure(request));
  return new Response(null, { status: 204, headers: { 'set-cookie': cookie, 'cache-control': 'no-store' } });
}

async function signOut(request: Request): Promise<Response> {
  const refused = refuseCrossSiteChange(request);
  if (refused) return refused;
  return new Response(null, { status: 204, headers: { 'set-cookie': clearedSessionCookie(secure(request)), 'cache-control': 'no-store' } });
}

function secure(request: Request): boolean {
  return new URL(request.url).protocol === 'https:';
}

async function asset(request: Request, context: DashboardContext): Promise<Response> {
  if (!context.assets) return json(404, { error: 'no dashboard assets are deployed with this Worker (wrangler.toml [assets])' });
  const served = await context.assets.fetch(new Request(request.url, { method: 'GET', headers: request.headers }));
  const response = new Response(served.body, served);
  response.headers.set('x-content-type-options', 'nosniff');
  response.headers.set('cache-control', 'no-cache');
  return response;
}
