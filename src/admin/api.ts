/**
 * The admin JSON API under /admin/api. Every route needs an authorized caller; every failure is JSON with an
 * `error` message. Routes arrive with their issues (config versions, drain, ...); status is the first.
 */
import { Router } from 'itty-router';
import { LOG_LEVELS, RUNTIME_SETTINGS_TTL_MS, type SettingsStore, readRuntimeSettings, writeRuntimeSettings } from '../config/runtime-settings.ts';
import type { Config, LogLevel } from '../config/types.ts';
import { errorFields, type Logger } from '../observe/log.ts';
import type { Db } from '../store/db.ts';
import { backendReport } from '../store/quotas.ts';
import { authorizeAdmin } from './authorize.ts';

export interface AdminContext {
  config: Config;
  environment: string | undefined;
  db(): Db;
  log: Logger;
  store: SettingsStore | undefined;
}

export async function handleAdmin(request: Request, context: AdminContext): Promise<Response> {
  const auth = await authorizeAdmin(request, context.config.admin, context.environment);
  if (!auth.ok) {
    context.log.info('admin request refused', { status: auth.status, error: auth.error });
    return json(auth.status, { error: auth.error });
  }
  const router = Router({ base: '/admin/api' });
  router.get('/status', () => status(context));
  router.get('/log-level', () => getLogLevel(context));
  router.put('/log-level', () => setLogLevel(request, context));
  router.delete('/log-level', () => clearLogLevel(context));
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

/** The level in effect, and whether it is the runtime override or the configuration's server.log_level. */
async function getLogLevel(context: AdminContext): Promise<Response> {
  const runtime = await readRuntimeSettings(context.store);
  return json(200, levelBody(context, runtime.logLevel));
}

/** Body `{"level": "debug"}`; every isolate picks it up within the runtime-settings bound. */
async function setLogLevel(request: Request, context: AdminContext): Promise<Response> {
  if (!context.store) return json(503, { error: 'no configuration store (CONFIG_KV) is bound' });
  let level: unknown;
  try {
    level = ((await request.json()) as { level?: unknown }).level;
  } catch {
    return json(400, { error: 'the body must be JSON like {"level": "debug"}' });
  }
  if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
    return json(400, { error: `level must be one of ${LOG_LEVELS.join(', ')}`, details: { level } });
  }
  const current = await readRuntimeSettings(context.store);
  await writeRuntimeSettings(context.store, { ...current, logLevel: level as LogLevel });
  context.log.warn('log level changed at runtime', { level });
  return json(200, levelBody(context, level as LogLevel));
}

async function clearLogLevel(context: AdminContext): Promise<Response> {
  if (!context.store) return json(503, { error: 'no configuration store (CONFIG_KV) is bound' });
  const current = await readRuntimeSettings(context.store);
  await writeRuntimeSettings(context.store, { ...current, logLevel: undefined });
  return json(200, levelBody(context, undefined));
}

function levelBody(context: AdminContext, override: LogLevel | undefined) {
  return {
    level: override ?? context.config.server.logLevel,
    source: override ? 'runtime' : 'config',
    propagation_seconds: RUNTIME_SETTINGS_TTL_MS / 1000,
  };
}

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
}
