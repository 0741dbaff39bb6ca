/** The Worker's HTTP entry: the orchestrator's own routes, then everything else as S3. */
import { Router } from 'itty-router';
import { handleAdmin } from '../admin/api.ts';
import { json } from '../admin/http.ts';
import { authorizeAdmin } from '../admin/authorize.ts';
import { fleetMetrics } from '../observe/fleet-metrics.ts';
import { renderMetrics } from '../observe/metrics.ts';
import { timingSafeEqualText } from '../s3/sigv4.ts';
import { createLogger, errorFields } from '../observe/log.ts';
import { S3Error } from '../s3/errors.ts';
import { handleS3, withRequestId } from '../s3/front-door.ts';
import { errorResponse } from '../s3/responses.ts';
import { openDatabase } from '../store/db.ts';
import { sql } from 'drizzle-orm';
import { readRuntimeSettings } from '../config/runtime-settings.ts';
import type { Services } from '../s3/services.ts';
import { type ActiveConfig, resolveActiveConfig } from './active-config.ts';
import type { Bindings } from './bindings.ts';
import { ensureQuotaLimitsSynced } from './quota-sync.ts';
import { rateLimitWait } from './rate-limit.ts';
import { createServices, newRequestId } from './services.ts';

const HEALTH_TIMEOUT_MS = 3000;

export async function handleFetch(request: Request, bindings: Bindings): Promise<Response> {
  const router = Router();
  router.get('/health', () => health(bindings));
  router.get('/metrics', () => metrics(request, bindings));
  router.all('/admin/*', () => admin(request, bindings));
  router.all('*', () => s3(request, bindings));
  return router.fetch(request) as Promise<Response>;
}

async function s3(request: Request, bindings: Bindings): Promise<Response> {
  const requestId = newRequestId();
  return withRequestServices(
    bindings,
    requestId,
    () => {
      const err = new S3Error('ServiceUnavailable', 'The orchestrator is not configured correctly; see its logs');
      return withRequestId(errorResponse(err, requestId, new URL(request.url).pathname, request.method), requestId);
    },
    async (services, active) => {
      const wait = await rateLimitWait(request, active.config.rateLimit, bindings, services.log);
      if (wait !== undefined) {
        const err = new S3Error('SlowDown', 'Please reduce your request rate.', { status: 429, headers: { 'retry-after': String(wait) } });
        return withRequestId(errorResponse(err, requestId, new URL(request.url).pathname, request.method), requestId);
      }
      try {
        await ensureQuotaLimitsSynced(services.db(), services.config);
      } catch (err) {
        // Also when no database is bound at all: the request itself then gets its own clear error.
        services.log.warn('quota limit sync failed; will retry', errorFields(err));
      }
      return handleS3(request, services, active.credentials);
    },
  );
}

async function admin(request: Request, bindings: Bindings): Promise<Response> {
  return withRequestServices(
    bindings,
    newRequestId(),
    () => json(503, { error: 'the orchestrator is not configured correctly; see its logs' }),
    async (services, active) => {
      if (!new URL(request.url).pathname.startsWith('/admin/api/')) return json(404, { error: 'not found' });
      const wait = await rateLimitWait(request, active.config.rateLimit, bindings, services.log);
      if (wait !== undefined) {
        const limited = json(429, { error: 'too many requests from this address; slow down' });
        limited.headers.set('retry-after', String(wait));
        return limited;
      }
      return handleAdmin(request, {
        active,
        deployedText: bindings.configText ?? '',
        vars: bindings.vars,
        environment: bindings.environment,
        db: services.db,
        log: services.log,
        store: bindings.configStore,
        backendState: bindings.backendState,
        health: services.health,
      });
    },
  );
}

/** Prometheus text, for an Access-authorized caller, the development admin token, or the scrape token. */
async function metrics(request: Request, bindings: Bindings): Promise<Response> {
  return withRequestServices(
    bindings,
    newRequestId(),
    () => json(503, { error: 'the orchestrator is not configured correctly; see its logs' }),
    async (services, active) => {
      const bearer = /^Bearer (.+)$/.exec(request.headers.get('authorization') ?? '')?.[1];
      const scrapeToken = active.config.telemetry.metricsToken;
      const scraper = bearer !== undefined && scrapeToken !== undefined && timingSafeEqualText(bearer, scrapeToken);
      if (!scraper) {
        const auth = await authorizeAdmin(request, active.config.admin, bindings.environment);
        if (!auth.ok) return json(auth.status, { error: auth.error });
      }
      const body = renderMetrics(await fleetMetrics(active.config, services.db(), bindings.backendState, bindings.rateLimiter));
      return new Response(body, { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' } });
    },
  );
}

/**
 * The request's services under the active configuration (or `unusable` when it is invalid); the database pool
 * is released once the response is done.
 */
async function withRequestServices(
  bindings: Bindings,
  requestId: string,
  unusable: () => Response,
  handle: (services: Services, active: ActiveConfig) => Promise<Response>,
): Promise<Response> {
  const runtime = await readRuntimeSettings(bindings.configStore);
  const loaded = await resolveActiveConfig(bindings, runtime.logLevel);
  if (!loaded.ok) {
    createLogger('info').error('configuration unusable', { error: loaded.error });
    return unusable();
  }
  const { services, close } = createServices(bindings, loaded.active, requestId, runtime);
  try {
    return await handle(services, loaded.active);
  } finally {
    bindings.waitUntil(close().catch(() => {}));
  }
}

/** `ok` when the metadata store answers, `degraded` when it does not (reads may still work later on). */
async function health(bindings: Bindings): Promise<Response> {
  if (!bindings.databaseUrl) return text('degraded');
  const database = openDatabase(bindings.databaseUrl, { localProxy: bindings.databaseLocalProxy });
  try {
    const probe = database.db.execute(sql`select 1`);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('health probe timed out')), HEALTH_TIMEOUT_MS));
    await Promise.race([probe, timeout]);
    return text('ok');
  } catch {
    return text('degraded');
  } finally {
    bindings.waitUntil(database.close().catch(() => {}));
  }
}

function text(body: string): Response {
  return new Response(body, { headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
}


