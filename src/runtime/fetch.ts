/** The Worker's HTTP entry: decides S3 or the orchestrator's own routes first, then routes within that surface. */
import { type IRequest, Router } from 'itty-router';
import { handleAdmin } from '../admin/api.ts';
import { handleDashboard } from '../ui/routes.ts';
import { json } from '../admin/http.ts';
import { authorizeAdmin } from '../admin/authorize.ts';
import { fleetMetrics } from '../admin/fleet-metrics.ts';
import { overloaded } from '../admin/refusals.ts';
import { renderMetrics } from '../observe/metrics.ts';
import { declaredLength, recordRequest } from '../observe/request-metrics.ts';
import { type RequestTiming, createRequestTiming } from '../observe/request-timing.ts';
import { timingSafeEqualText } from '../s3/sigv4.ts';
import { createLogger, errorFields } from '../observe/log.ts';
import { S3Error } from '../s3/errors.ts';
import { handleS3, withRequestId } from '../s3/front-door.ts';
import { errorResponse } from '../s3/responses.ts';
import { bucketFromHost } from '../s3/request.ts';
import { databaseBusy } from '../store/database-gate.ts';
import { openDatabase } from '../store/db.ts';
import { sql } from 'drizzle-orm';
import type { Services } from '../services/services.ts';
import { type ActiveConfig, deployedBaseDomains, rememberActiveRecord, resolveActiveConfig } from './active-config.ts';
import type { Bindings } from './bindings.ts';
import { ensureQuotaLimitsSynced } from '../jobs/quota-sync.ts';
import { rateLimitWait } from './rate-limit.ts';
import { traceS3Request } from './request-trace.ts';
import { createServices, flushMetricsIfDue, newRequestId, readSettings } from './services.ts';
import { thisIsolate } from './isolate.ts';

const HEALTH_TIMEOUT_MS = 3000;

/**
 * The orchestrator's own routes, built once per isolate. Only requests `isOwnRoute` picked reach it, so a
 * bucket's key named `metrics` or `admin/x` is never captured; each surface renders its own failures.
 */
const ownRoutes = Router<IRequest, [Bindings]>()
  .get('/health', (request, bindings) => health(request, bindings))
  .get('/metrics', (request, bindings) => metrics(request, bindings))
  .all('/admin', (request, bindings) => admin(request, bindings))
  .all('/admin/*', (request, bindings) => admin(request, bindings))
  .all('*', (request) => json(404, { error: `no route ${request.method} ${new URL(request.url).pathname}` }));

/** Path-style names that belong to the orchestrator (bucket names it reserves: config/validate.ts). */
const OWN_FIRST_SEGMENTS = new Set(['health', 'metrics', 'admin']);

/**
 * S3 or the orchestrator: decided before any path is matched. A virtual-hosted request (its Host a bucket under a
 * configured base domain) is always S3, whatever its path; otherwise only the reserved first path segments
 * (`/health`, `/metrics`, `/admin/...`) are the orchestrator's, and every other path is path-style S3.
 */
export function isOwnRoute(request: Request, baseDomains: readonly string[]): boolean {
  const url = new URL(request.url);
  if (bucketFromHost(request.headers.get('host') ?? url.host, baseDomains) !== undefined) return false;
  return OWN_FIRST_SEGMENTS.has(url.pathname.split('/')[1] ?? '');
}

export async function handleFetch(request: Request, bindings: Bindings): Promise<Response> {
  if (!isOwnRoute(request, deployedBaseDomains(bindings))) return s3(request, bindings);
  return (await ownRoutes.fetch(request, bindings)) as Response;
}

/** The S3 surface: every failure, also outside an operation (config, rate limiter), is an S3 XML error. */
async function s3(request: Request, bindings: Bindings): Promise<Response> {
  const timing = createRequestTiming(Date.now);
  const requestId = newRequestId();
  let response: Response;
  try {
    response = await s3Request(request, bindings, requestId, timing);
  } catch (err) {
    createLogger('info').error('s3 request failed outside its operation', { ...errorFields(err), request_id: requestId });
    response = s3Failure(request, requestId, new S3Error('InternalError', 'We encountered an internal error. Please try again.'));
  }
  timing.finish();
  countS3Request(request, response, timing.startedAt, bindings);
  traceS3Request(request, response, { requestId, timing }, bindings);
  return response;
}

/** Counts the answered request in this isolate (a few map updates) and hands a batch to waitUntil when one is due. */
function countS3Request(request: Request, response: Response, started: number, bindings: Bindings): void {
  recordRequest(thisIsolate().metrics, {
    method: request.method,
    status: response.status,
    seconds: (Date.now() - started) / 1000,
    requestBytes: declaredLength(request.headers, request.body !== null),
    // A HEAD answer declares the object's length but sends no body.
    responseBytes: request.method === 'HEAD' ? 0 : declaredLength(response.headers, response.body !== null),
  });
  flushMetricsIfDue(bindings);
}

/** An S3 error document for a request the S3 pipeline did not get to answer itself. */
function s3Failure(request: Request, requestId: string, err: S3Error): Response {
  return withRequestId(errorResponse(err, requestId, new URL(request.url).pathname, request.method), requestId);
}

async function s3Request(request: Request, bindings: Bindings, requestId: string, timing: RequestTiming): Promise<Response> {
  return withRequestServices(
    bindings,
    requestId,
    () => s3Failure(request, requestId, new S3Error('ServiceUnavailable', 'The orchestrator is not configured correctly; see its logs')),
    async (services, active) => {
      const wait = await timing.time('rate_limit', () => rateLimitWait(request, active.config.rateLimit, bindings, services.log));
      if (wait !== undefined) {
        return s3Failure(request, requestId, new S3Error('SlowDown', 'Please reduce your request rate.', { status: 429, headers: { 'retry-after': String(wait) } }));
      }
      try {
        await ensureQuotaLimitsSynced(services);
      } catch (err) {
        // Also when no database is bound at all: the request itself then gets its own clear error.
        services.log.warn('quota limit sync failed; will retry', errorFields(err));
      }
      return handleS3(request, services, active.credentials);
    },
    timing,
  );
}

/** The admin surface: every failure is JSON. */
async function admin(request: Request, bindings: Bindings): Promise<Response> {
  return jsonSurface('admin', () => adminRequest(request, bindings));
}

async function adminRequest(request: Request, bindings: Bindings): Promise<Response> {
  return withRequestServices(
    bindings,
    newRequestId(),
    () => json(503, { error: 'the orchestrator is not configured correctly; see its logs' }),
    async (services, active) => {
      const wait = await rateLimitWait(request, active.config.rateLimit, bindings, services.log);
      if (wait !== undefined) {
        const limited = json(429, { error: 'too many requests from this address; slow down' });
        limited.headers.set('retry-after', String(wait));
        return limited;
      }
      if (!new URL(request.url).pathname.startsWith('/admin/api/')) {
        return handleDashboard(request, { admin: active.config.admin, environment: bindings.environment, assets: bindings.assets, log: services.log, now: services.now });
      }
      return handleAdmin(request, {
        services,
        active,
        deployedText: bindings.configText ?? '',
        vars: bindings.vars,
        environment: bindings.environment,
        store: bindings.configStore,
        rememberActive: rememberActiveRecord,
        runtimeSettings: thisIsolate().runtimeSettings,
        adminEvents: bindings.adminEvents(),
        trace: { collector: bindings.traceCollector(), opened: (window) => thisIsolate().trace.learn(window, Date.now()) },
      });
    },
  );
}

/** Prometheus text, for an Access-authorized caller, the development admin token, or the scrape token. */
async function metrics(request: Request, bindings: Bindings): Promise<Response> {
  return jsonSurface('metrics', () => metricsRequest(request, bindings));
}

async function metricsRequest(request: Request, bindings: Bindings): Promise<Response> {
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
      const body = renderMetrics(await fleetMetrics(services));
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
  timing: RequestTiming = createRequestTiming(Date.now),
): Promise<Response> {
  const { runtime, loaded } = await timing.time('config', async () => {
    const runtime = await readSettings(bindings);
    return { runtime, loaded: await resolveActiveConfig(bindings, runtime.logLevel) };
  });
  if (!loaded.ok) {
    createLogger('info').error('configuration unusable', { error: loaded.error });
    return unusable();
  }
  const { services, close } = createServices(bindings, loaded.active, { requestId, runtime, timing });
  try {
    return await handle(services, loaded.active);
  } finally {
    bindings.waitUntil(close().catch(() => {}));
  }
}

async function jsonSurface(surface: string, handle: () => Promise<Response>): Promise<Response> {
  try {
    return await handle();
  } catch (err) {
    if (databaseBusy(err)) return overloaded();
    createLogger('info').error(`${surface} request failed`, errorFields(err));
    return json(500, { error: 'internal error; see the logs' });
  }
}

/** How long one isolate reuses its answer: a flood of /health calls opens at most one connection per period. */
const HEALTH_CACHE_MS = 2000;

/**
 * `ok` when the metadata store answers, `degraded` when it does not (reads may still work later on). Rate-limited
 * like every route; the probe's answer is shared for HEALTH_CACHE_MS.
 */
async function health(request: Request, bindings: Bindings): Promise<Response> {
  try {
    const loaded = await resolveActiveConfig(bindings);
    if (loaded.ok) {
      const wait = await rateLimitWait(request, loaded.active.config.rateLimit, bindings, createLogger(loaded.active.config.server.logLevel));
      if (wait !== undefined) return new Response('slow down', { status: 429, headers: { ...TEXT_HEADERS, 'retry-after': String(wait) } });
    }
    const now = Date.now();
    const isolate = thisIsolate();
    if (!isolate.lastHealth || now - isolate.lastHealth.at >= HEALTH_CACHE_MS) isolate.lastHealth = { at: now, answer: probeDatabase(bindings) };
    return text(await isolate.lastHealth.answer);
  } catch {
    return text('degraded');
  }
}

async function probeDatabase(bindings: Bindings): Promise<string> {
  if (!bindings.databaseUrl) return 'degraded';
  const database = openDatabase(bindings.databaseUrl, { localProxy: bindings.databaseLocalProxy });
  try {
    const probe = database.db.execute(sql`select 1`);
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('health probe timed out')), HEALTH_TIMEOUT_MS));
    await Promise.race([probe, timeout]);
    return 'ok';
  } catch {
    return 'degraded';
  } finally {
    bindings.waitUntil(database.close().catch(() => {}));
  }
}

const TEXT_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };

function text(body: string): Response {
  return new Response(body, { headers: TEXT_HEADERS });
}


