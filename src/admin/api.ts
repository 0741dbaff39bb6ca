/**
 * The admin JSON API under /admin/api. Every route needs an authorized caller; every failure is JSON with an
 * `error` message. Routes arrive with their issues (config versions, drain, ...); status is the first.
 */
import { Router } from 'itty-router';
import type { Config } from '../config/types.ts';
import { errorFields, type Logger } from '../observe/log.ts';
import type { Db } from '../store/db.ts';
import { backendReport } from '../store/quotas.ts';
import { authorizeAdmin } from './authorize.ts';

export interface AdminContext {
  config: Config;
  environment: string | undefined;
  db(): Db;
  log: Logger;
}

export async function handleAdmin(request: Request, context: AdminContext): Promise<Response> {
  const auth = await authorizeAdmin(request, context.config.admin, context.environment);
  if (!auth.ok) {
    context.log.info('admin request refused', { status: auth.status, error: auth.error });
    return json(auth.status, { error: auth.error });
  }
  const router = Router({ base: '/admin/api' });
  router.get('/status', () => status(context));
  router.all('*', () => json(404, { error: `no admin route ${request.method} ${new URL(request.url).pathname}` }));
  try {
    return (await router.fetch(request)) as Response;
  } catch (err) {
    context.log.error('admin request failed', errorFields(err));
    return json(500, { error: 'internal error; see the logs' });
  }
}

/** Per backend: quota used and limit, orphaned bytes, objects, state. */
async function status(context: AdminContext): Promise<Response> {
  const rows = await backendReport(context.db());
  const configured = new Set(context.config.backends.map((b) => b.name));
  return json(200, {
    backends: rows.map((r) => ({
      name: r.backendName,
      bytes_used: r.bytesUsed,
      bytes_limit: r.bytesLimit,
      orphan_bytes: r.orphanBytes,
      objects: r.objects,
      // Drain and health states arrive with the Durable Object issue; a backend no longer configured is orphaned.
      state: configured.has(r.backendName) ? 'active' : 'not-configured',
    })),
  });
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
}
