/**
 * The one place Services are built: for a request, a cron tick, a queue batch or a Durable Object call, from the
 * bindings and the configuration in effect. Whoever opens them closes them (the database pool) when done.
 */
import { createBackendHealth } from '../backends/backend-health.ts';
import type { BackendClient } from '../backends/client.ts';
import { type RuntimeSettings, readRuntimeSettings } from '../config/runtime-settings.ts';
import { randomHex } from '../crypto/encoding.ts';
import type { Config } from '../config/types.ts';
import { createKeyProvider, type KeyProvider } from '../crypto/key-provider.ts';
import { type StorageTransform, atRestStorage } from '../crypto/storage-transform.ts';
import { type EventCounters, eventCounters } from '../observe/fleet-counters.ts';
import { createLogger } from '../observe/log.ts';
import { type Notifier, createNotifier } from '../notify/notifier.ts';
import { DATABASE_SHED } from '../observe/request-metric-families.ts';
import { createRequestMetrics, recordBackendCall, sendToShard } from '../observe/request-metrics.ts';
import { type RequestTiming, createRequestTiming } from '../observe/request-timing.ts';
import type { OpenServices, OpenedServices, Services } from '../services/services.ts';
import { DatabaseBusyError, requestAdmission } from '../store/database-gate.ts';
import { type Database, openDatabase } from '../store/db.ts';
import { type ActiveConfig, deploymentOf, resolveActiveConfig } from './active-config.ts';
import type { Bindings } from './bindings.ts';
import { type Isolate, thisIsolate } from './isolate.ts';
import { cacheApiObjectCache } from './object-cache.ts';

/** This request's database calls through the isolate's load shedding; a refusal is counted by its reason. */
function databaseAdmission(isolate: Isolate, server: Config['server']): <T>(work: () => Promise<T>) => Promise<T> {
  const limits = { inFlight: server.databaseMaxInFlight, queue: server.databaseQueue, waitMs: server.databaseQueueTimeoutMs };
  const admit = requestAdmission(isolate.databaseGate, () => limits);
  // Calls riding on one refused slot share its error: counted once.
  const counted = new WeakSet<DatabaseBusyError>();
  return (work) =>
    admit(work).catch((err: unknown) => {
      if (err instanceof DatabaseBusyError && !counted.has(err)) {
        counted.add(err);
        isolate.metrics.count(DATABASE_SHED, [err.why]);
      }
      throw err;
    });
}

/** The clock every service reads. */
const now = () => Date.now();

export function createServices(
  bindings: Bindings,
  active: ActiveConfig,
  opts: { requestId?: string; runtime?: RuntimeSettings; logFields?: Record<string, unknown>; timing?: RequestTiming } = {},
): OpenedServices {
  const isolate = thisIsolate();
  const requestId = opts.requestId ?? newRequestId();
  const timing = opts.timing ?? createRequestTiming(now);
  let database: Database | undefined;
  const log = createLogger(opts.runtime?.logLevel ?? active.config.server.logLevel, { request_id: requestId, ...opts.logFields });
  const health = createBackendHealth(
    {
      backendState: bindings.backendState,
      waitUntil: bindings.waitUntil,
      now,
      sleep,
      observeCall: (call) => {
        recordBackendCall(isolate.metrics, call);
        timing.add('backend', call.seconds * 1000);
      },
    },
    isolate.health,
  );
  const tracked = new Map<string, BackendClient>();
  const counters = isolateCounters(bindings);
  // Work handed to waitUntil may still need the database after the response (e.g. a verified read's verdict).
  const pending: Promise<unknown>[] = [];
  const services: Services = {
    config: active.config,
    db() {
      if (!bindings.databaseUrl) throw new Error('DATABASE_URL is not set');
      database ??= openDatabase(bindings.databaseUrl, {
        localProxy: bindings.databaseLocalProxy,
        observe: (kind, ms) => timing.add(kind === 'statement' ? 'metadata' : 'commit', ms),
        countTrip: (trip) => timing.countDatabase(trip),
        admit: databaseAdmission(isolate, active.config.server),
      });
      return database.db;
    },
    backend(name) {
      let client = tracked.get(name);
      if (!client) {
        const raw = active.backends.get(name);
        if (!raw) throw new Error(`backend ${name} is not in the configuration`);
        client = health.track(raw);
        tracked.set(name, client);
      }
      return client;
    },
    health,
    backendState: bindings.backendState,
    counters,
    metrics: createRequestMetrics({ recorder: isolate.metrics, shard: bindings.metricsShard, now }),
    timing,
    storage: storageFor(active.config, isolate),
    jobs: bindings.jobs,
    notify: notifierFor(bindings, active.config, counters, log),
    objectCache: cacheApiObjectCache(),
    memory: isolate.memory,
    log,
    requestId,
    deployment: deploymentOf(bindings),
    now,
    waitUntil: (promise) => {
      pending.push(promise.catch(() => {}));
      bindings.waitUntil(promise);
    },
  };
  const close = async () => {
    await Promise.all(pending);
    await database?.close();
    // Every entry (request, cron tick, queue batch, Durable Object call) closes its services: the one place where
    // backend calls made outside S3 requests get their counts sent too.
    flushMetricsIfDue(bindings);
  };
  return { services, close };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The fleet counters as this isolate adds to them (its adds go together, spaced, to the FleetCounters object). */
export function isolateCounters(bindings: Bindings): EventCounters {
  return eventCounters(bindings.fleetCounters, { waitUntil: bindings.waitUntil, sleep }, thisIsolate().counters);
}

/** Notifications to the endpoints `config` names, queued through the bindings' notifications queue. */
export function notifierFor(bindings: Bindings, config: Config, counters = isolateCounters(bindings), log = createLogger(config.server.logLevel)): Notifier {
  return createNotifier({ queue: bindings.notifications, endpoints: config.notifications.endpoints, counters, log, now, waitUntil: bindings.waitUntil });
}

/** How copies are stored under this configuration: sealed with its keys when encryption is on. */
function storageFor(config: Config, isolate: Isolate): StorageTransform {
  const { enabled, chunkSize } = config.encryption;
  return atRestStorage({ enabled, chunkSize }, keysOf(config, isolate), isolate.encryption.dataKeys);
}

/** The configuration's key provider, built once per isolate; undefined when it configures no key. */
export function keysOf(config: Config, isolate: Isolate = thisIsolate()): (() => Promise<KeyProvider>) | undefined {
  const settings = config.encryption;
  if (settings.masterKey === undefined && settings.vault === undefined) return undefined;
  return () => {
    let provider = isolate.encryption.providers.get(settings);
    if (!provider) {
      provider = createKeyProvider(settings);
      isolate.encryption.providers.set(settings, provider);
    }
    return provider;
  };
}

/** How a Durable Object opens services for one call: under the configuration in effect, if it is usable. */
export function servicesOpener(bindings: Bindings, logFields: Record<string, unknown>): OpenServices {
  return async () => {
    const runtime = await readSettings(bindings);
    const loaded = await resolveActiveConfig(bindings, runtime.logLevel);
    if (!loaded.ok) {
      createLogger('info', logFields).error('configuration unusable', { error: loaded.error });
      return undefined;
    }
    return createServices(bindings, loaded.active, { runtime, logFields });
  };
}

/** Sends this isolate's request metrics to its shard when FLUSH_INTERVAL_MS has passed (through waitUntil). */
export function flushMetricsIfDue(bindings: Bindings): void {
  thisIsolate().metrics.flushIfDue(now(), sendToShard(bindings.metricsShard), bindings.waitUntil);
}

export function readSettings(bindings: Bindings): Promise<RuntimeSettings> {
  return readRuntimeSettings(bindings.configStore, thisIsolate().runtimeSettings, now());
}

export function newRequestId(): string {
  return randomHex(8).toUpperCase();
}
