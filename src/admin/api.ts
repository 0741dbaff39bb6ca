/**
 * The admin JSON API under /admin/api. Every route needs an authorized caller; every answer is JSON (but an object's
 * bytes, downloaded by the object browser) and every failure JSON with an `error` message. Routes arrive with their issues (config versions, drain, ...); status is the first.
 */
import { Router } from 'itty-router';
import { type ConfigStore, KV_REFRESH_MS, type RefreshedValue } from '../config/config-store.ts';
import { LOG_LEVELS, readRuntimeSettings, writeRuntimeSettings } from '../config/runtime-settings.ts';
import type { ConfigInEffect } from '../config/in-effect.ts';
import type { LogLevel } from '../config/types.ts';
import { errorFields } from '../observe/log.ts';
import type { Services } from '../services/services.ts';
import { CLEANUP_MAX_ATTEMPTS, cleanupOverview } from '../store/cleanup.ts';
import { findObject } from '../store/objects.ts';
import { databaseBusy } from '../store/database-gate.ts';
import { overloaded } from './refusals.ts';
import { authorizeAdmin } from './authorize.ts';
import { type AuditNote, adminAction, callerName, queryParams } from './admin-audit.ts';
import { adminEventsRoute } from './events-route.ts';
import type { AdminEventsRpc } from '../observe/admin-events.ts';
import { type TraceContext, startTraceRoute, traceReportRoute } from './trace-route.ts';
import { fleetStatus } from './fleet-status.ts';
import { dashboardRoute } from './dashboard-routes.ts';
import { cancelDrainRoute, drainStatusRoute, removeBackendRoute, startDrainRoute } from './backend-routes.ts';
import { overReplicationRoute, replicateRoute } from './replication-routes.ts';
import { rebalanceRoute } from './rebalance-routes.ts';
import { syncRoute } from './sync-routes.ts';
import { backfillChecksumsRoute, scrubRoute } from './integrity-routes.ts';
import { cachePurgeRoute, cacheStatsRoute } from './cache-routes.ts';
import { encryptionRoute, jobStatusRoute, startJobRoute } from './encryption-routes.ts';
import { BULK_JOB_KINDS } from '../jobs/bulk-jobs.ts';
import { diffConfig, pushConfig, rollbackConfig, showConfig, versionHistory, versionRoute } from './config-routes.ts';
import { json, readJsonObject } from './http.ts';
import { refuseCrossSiteChange } from './request-guard.ts';
import { bucketsRoute, treeRoute } from './tree-routes.ts';
import { deleteObjectRoute, getObjectRoute, putObjectRoute } from './object-routes.ts';
import { abortUploadRoute, completeUploadRoute, createUploadRoute, uploadPartRoute } from './upload-routes.ts';
import { deletePrefixRoute } from './delete-prefix-route.ts';

/** What an admin route gets besides the request: the services, and what only configuration routes need. */
export interface AdminContext {
  services: Services;
  active: ConfigInEffect;
  /** The document this deployment runs with (S3O_CONFIG), and the variables `${VAR}` expands from. */
  deployedText: string;
  vars: Readonly<Record<string, unknown>>;
  environment: string | undefined;
  store: ConfigStore | undefined;
  /** Follows this isolate's own activation at once, rather than after the refresh bound. */
  rememberActive(record: string): void;
  /** This isolate's view of the runtime settings. */
  runtimeSettings: RefreshedValue;
  /** The fleet's ring of admin events: every action is appended, `GET /events` reads it. */
  adminEvents: AdminEventsRpc;
  /** The fleet's trace collector: `POST /trace` opens a window, `GET /trace` reports it. */
  trace: TraceContext;
}

export async function handleAdmin(request: Request, context: AdminContext): Promise<Response> {
  const crossSite = refuseCrossSiteChange(request);
  if (crossSite) {
    context.services.log.info('admin request refused', { status: crossSite.status, origin: request.headers.get('origin') ?? undefined });
    return crossSite;
  }
  const auth = await authorizeAdmin(request, context.active.config.admin, context.environment);
  if (!auth.ok) {
    context.services.log.info('admin request refused', { status: auth.status, error: auth.error });
    return json(auth.status, { error: auth.error });
  }
  const by = callerName(auth.caller);
  const action = adminAction(context.services, context.adminEvents, auth.caller);
  const act = action.as;
  const backend = (params: Record<string, string | undefined>) => decodeURIComponent(params.name ?? '');
  const object = () => queryParams(request, ['bucket', 'key']);
  const router = Router({ base: '/admin/api' });
  router.get('/status', async () => json(200, await fleetStatus(context)));
  router.get('/dashboard', () => dashboardRoute(context));
  router.get('/events', () => adminEventsRoute(request, context.adminEvents));
  router.get('/config/versions/:version', ({ params }) => versionRoute(params.version ?? '', context));
  router.get('/object-locations', () => objectLocations(request, context));
  router.get('/cleanup-queue', () => cleanupQueueRoute(context));
  router.post('/replicate', () => act('admin.replicate', {}, () => replicateRoute(context)));
  router.get('/over-replication', () => overReplicationRoute(request, context));
  router.post('/over-replication', () => act('admin.over_replication', queryParams(request, ['batch_size']), () => overReplicationRoute(request, context)));
  router.get('/rebalance', () => rebalanceRoute(request, context));
  router.post('/rebalance', () => act('admin.rebalance', queryParams(request, ['limit']), () => rebalanceRoute(request, context)));
  router.post('/sync', () => act('admin.sync', {}, (note) => syncRoute(request, context, note)));
  router.post('/backends/:name/drain', ({ params }) => act('admin.drain', { backend: backend(params) }, () => startDrainRoute(backend(params), context)));
  router.get('/backends/:name/drain', ({ params }) => drainStatusRoute(backend(params), context));
  router.delete('/backends/:name/drain', ({ params }) => act('admin.drain_cancel', { backend: backend(params) }, () => cancelDrainRoute(backend(params), context)));
  router.delete('/backends/:name', ({ params }) => {
    // The confirmation token is a credential for the purge: it is never recorded, only whether one was given.
    const query = new URL(request.url).searchParams;
    const audited = { backend: backend(params), purge: query.get('purge') === 'true', confirmed: query.has('confirm') };
    return act('admin.remove_backend', audited, () => removeBackendRoute(request, backend(params), context));
  });
  router.get('/config', () => showConfig(context));
  router.get('/config/versions', () => versionHistory(context));
  router.post('/config/versions', () => act('admin.config.push', {}, (note) => pushConfig(request, context, by, note)));
  router.post('/config/diff', () => diffConfig(request, context));
  router.post('/config/rollback', () => act('admin.config.rollback', {}, (note) => rollbackConfig(request, context, by, note)));
  router.get('/encryption', () => encryptionRoute(context));
  for (const kind of BULK_JOB_KINDS) {
    router.post(`/${kind}`, () => act(`admin.${kind.replaceAll('-', '_')}`, {}, () => startJobRoute(request, kind, context)));
    router.get(`/${kind}`, () => jobStatusRoute(kind, context));
  }
  router.get('/cache', () => cacheStatsRoute(context));
  router.post('/cache/purge', () => act('admin.cache_purge', {}, (note) => cachePurgeRoute(request, context, note)));
  router.post('/scrub', () => act('admin.scrub', queryParams(request, ['batch_size']), () => scrubRoute(request, context)));
  router.post('/backfill-checksums', () => act('admin.backfill_checksums', queryParams(request, ['batch_size']), () => backfillChecksumsRoute(request, context)));
  // Sends the request metrics of the isolate serving this call to its shard now (each isolate flushes on its own).
  router.post('/metrics/flush', async () => json(200, await context.services.metrics.flush()));
  router.post('/trace', () => act('admin.trace', {}, (note) => startTraceRoute(request, context.trace, note)));
  router.get('/trace', () => traceReportRoute(request, context.trace));
  router.get('/log-level', () => getLogLevel(context));
  router.put('/log-level', () => act('admin.log_level', {}, (note) => setLogLevel(request, context, note)));
  router.delete('/log-level', () => act('admin.log_level_reset', {}, () => clearLogLevel(context)));
  // object browser (dashboard): bucket totals, tree pages, one object's bytes, multipart uploads, delete a prefix.
  // Parts are not actions of their own: the upload's create and complete (or abort) record it.
  router.get('/buckets', () => bucketsRoute(context));
  router.get('/tree', () => treeRoute(request, context));
  router.get('/objects', () => getObjectRoute(request, context));
  router.put('/objects', () => act('admin.upload', object(), () => putObjectRoute(request, context)));
  router.delete('/objects', () => act('admin.delete_object', object(), () => deleteObjectRoute(request, context)));
  router.post('/uploads', () => act('admin.multipart_create', {}, (note) => createUploadRoute(request, context, note)));
  router.put('/uploads/:id/parts/:n', ({ params }) => uploadPartRoute(request, params.id ?? '', params.n ?? '', context));
  router.post('/uploads/:id/complete', ({ params }) => act('admin.multipart_complete', { upload_id: params.id }, (note) => completeUploadRoute(request, params.id ?? '', context, note)));
  router.delete('/uploads/:id', ({ params }) => act('admin.multipart_abort', { ...object(), upload_id: params.id }, () => abortUploadRoute(request, params.id ?? '', context)));
  router.post('/delete-prefix', () => act('admin.delete_prefix', {}, (note) => deletePrefixRoute(request, context, note)));
  router.all('*', () => json(404, { error: `no admin route ${request.method} ${new URL(request.url).pathname}` }));
  let response: Response;
  try {
    response = (await router.fetch(request)) as Response;
  } catch (err) {
    if (databaseBusy(err)) {
      response = overloaded();
    } else {
      context.services.log.error('admin request failed', errorFields(err));
      response = json(500, { error: 'internal error; see the logs' });
    }
  }
  action.finish(response.status);
  return response;
}

/** The level in effect, and whether it is the runtime override or the configuration's server.log_level. */
async function getLogLevel(context: AdminContext): Promise<Response> {
  const runtime = await readRuntimeSettings(context.store, context.runtimeSettings, context.services.now());
  return json(200, levelBody(context, runtime.logLevel));
}

/** Body `{"level": "debug"}`; every isolate picks it up within the runtime-settings bound. */
async function setLogLevel(request: Request, context: AdminContext, note: AuditNote): Promise<Response> {
  if (!context.store) return json(503, { error: 'no configuration store (CONFIG_KV) is bound' });
  const body = await readJsonObject(request, '{"level": "debug"}');
  if (!body.ok) return body.response;
  const level = body.value.level;
  note({ level: typeof level === 'string' ? level.slice(0, 20) : undefined });
  if (typeof level !== 'string' || !(LOG_LEVELS as readonly string[]).includes(level)) {
    return json(400, { error: `level must be one of ${LOG_LEVELS.join(', ')}`, details: { level } });
  }
  const current = await readRuntimeSettings(context.store, context.runtimeSettings, context.services.now());
  await writeRuntimeSettings(context.store, context.runtimeSettings, { ...current, logLevel: level as LogLevel }, context.services.now());
  context.services.log.warn('log level changed at runtime', { level });
  return json(200, levelBody(context, level as LogLevel));
}

async function clearLogLevel(context: AdminContext): Promise<Response> {
  if (!context.store) return json(503, { error: 'no configuration store (CONFIG_KV) is bound' });
  const current = await readRuntimeSettings(context.store, context.runtimeSettings, context.services.now());
  await writeRuntimeSettings(context.store, context.runtimeSettings, { ...current, logLevel: undefined }, context.services.now());
  return json(200, levelBody(context, undefined));
}

function levelBody(context: AdminContext, override: LogLevel | undefined) {
  return {
    level: override ?? context.active.config.server.logLevel,
    source: override ? 'runtime' : 'config',
    propagation_seconds: KV_REFRESH_MS / 1000,
  };
}

/** The cleanup queue: counts (waiting, due now, stuck after 10 attempts) and the first 50 items, stuck ones first. */
async function cleanupQueueRoute(context: AdminContext): Promise<Response> {
  const overview = await cleanupOverview(context.services.db(), new Date(context.services.now()), 50);
  return json(200, {
    depth: overview.depth,
    due: overview.due,
    stuck: overview.stuck,
    max_attempts: CLEANUP_MAX_ATTEMPTS,
    items: overview.items.map((i) => ({
      id: i.id,
      backend: i.backendName,
      physical_key: i.physicalKey,
      reason: i.reason,
      size: i.size,
      attempts: i.attempts,
      next_retry: i.nextRetry,
      last_error: i.lastError,
      created_at: i.createdAt,
    })),
  });
}

/** `?key=bucket/key` (the reference's form): the object's record and every copy, oldest first. */
async function objectLocations(request: Request, context: AdminContext): Promise<Response> {
  const param = new URL(request.url).searchParams.get('key') ?? '';
  const slash = param.indexOf('/');
  if (slash <= 0 || slash === param.length - 1) {
    return json(400, { error: 'key must be "<bucket>/<object key>", e.g. ?key=photos/2024/a.jpg' });
  }
  const bucket = param.slice(0, slash);
  const key = param.slice(slash + 1);
  if (!context.active.config.buckets.some((b) => b.name === bucket)) {
    return json(404, { error: `no bucket "${bucket}" in the configuration` });
  }
  const object = await findObject(context.services.db(), bucket, key);
  if (!object) return json(404, { error: `no object "${key}" in bucket "${bucket}"` });
  const configured = new Set(context.active.config.backends.map((b) => b.name));
  return json(200, {
    bucket,
    key,
    size: object.size,
    etag: object.etag,
    version: object.version,
    last_modified: object.createdAt,
    locations: object.locations.map((l) => ({
      backend: l.backendName,
      physical_key: l.physicalKey,
      stored_size: l.storedSize,
      created_at: l.createdAt,
      configured: configured.has(l.backendName),
    })),
  });
}
