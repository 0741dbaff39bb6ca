/** Everything an S3 operation needs, built once per request from the Worker's bindings and passed in. */
import type { BackendHealth } from '../backends/backend-health.ts';
import type { BackendClient } from '../backends/client.ts';
import type { Config } from '../config/types.ts';
import type { StorageTransform } from '../crypto/storage-transform.ts';
import type { Logger } from '../observe/log.ts';
import type { Db } from '../store/db.ts';

export interface Services {
  config: Config;
  /** Opens the request's database pool on first use. */
  db(): Db;
  /** The backend's client; its calls feed the backend's circuit breaker. */
  backend(name: string): BackendClient;
  /** The backends' circuit breakers as this isolate sees them. */
  health: BackendHealth;
  /** Adds one to a fleet-wide event total for /metrics (off the request's path). */
  countEvent(counter: string): void;
  storage: StorageTransform;
  log: Logger;
  requestId: string;
  now(): number;
  /** Keeps the isolate alive for work that must finish after the response (best effort). */
  waitUntil(promise: Promise<unknown>): void;
}
