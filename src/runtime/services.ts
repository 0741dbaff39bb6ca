/** Builds the per-request Services from the bindings and the active configuration. */
import { randomHex } from '../crypto/encoding.ts';
import type { RuntimeSettings } from '../config/runtime-settings.ts';
import { createBackendHealth } from '../backends/backend-health.ts';
import { FLEET_COUNTERS } from './rate-limit-rpc.ts';
import type { BackendClient } from '../backends/client.ts';
import { storageTransformFor } from '../crypto/select-transform.ts';
import { createLogger } from '../observe/log.ts';
import type { Services } from '../services/services.ts';
import { type Database, openDatabase } from '../store/db.ts';
import type { ActiveConfig } from './active-config.ts';
import type { Bindings } from './bindings.ts';

export interface RequestServices {
  services: Services;
  /** Releases the request's database connections; call once the response is done. */
  close(): Promise<void>;
}

export function createServices(
  bindings: Bindings,
  active: ActiveConfig,
  requestId: string,
  runtime: RuntimeSettings = {},
): RequestServices {
  let database: Database | undefined;
  const log = createLogger(runtime.logLevel ?? active.config.server.logLevel, { request_id: requestId });
  const health = createBackendHealth(bindings);
  const tracked = new Map<string, BackendClient>();
  const services: Services = {
    config: active.config,
    db() {
      if (!bindings.databaseUrl) throw new Error('DATABASE_URL is not set');
      database ??= openDatabase(bindings.databaseUrl, { localProxy: bindings.databaseLocalProxy });
      return database.db;
    },
    backend(name) {
      let client = tracked.get(name);
      if (!client) {
        const raw = active.backends.get(name);
        if (!raw) throw new Error(`backend "${name}" is not in the configuration`);
        client = health.track(raw);
        tracked.set(name, client);
      }
      return client;
    },
    health,
    countEvent: (counter) => bindings.waitUntil(bindings.rateLimiter(FLEET_COUNTERS).increment(counter, 1).catch(() => {})),
    storage: storageTransformFor(active.config),
    log,
    requestId,
    now: () => Date.now(),
    waitUntil: (promise) => bindings.waitUntil(promise),
  };
  return { services, close: async () => database?.close() };
}

export function newRequestId(): string {
  return randomHex(8).toUpperCase();
}
