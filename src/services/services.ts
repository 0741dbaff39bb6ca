/**
 * Everything a domain operation or a background job needs, in one shape. The composition root (src/runtime/)
 * builds it, once per request, cron tick, queue batch or Durable Object call, from the Worker's bindings and the
 * configuration in effect; operations and jobs take `(services, input)`.
 */
import type { BackendHealth } from '../backends/backend-health.ts';
import type { BackendStateRpc } from '../backends/backend-state-rpc.ts';
import type { BackendClient } from '../backends/client.ts';
import type { Config } from '../config/types.ts';
import type { StorageTransform } from '../crypto/storage-transform.ts';
import type { EventCounters } from '../observe/fleet-counters.ts';
import type { Logger } from '../observe/log.ts';
import type { RequestMetrics } from '../observe/request-metrics.ts';
import type { RequestTiming } from '../observe/request-timing.ts';
import type { Notifier } from '../notify/notifier.ts';
import type { Db } from '../store/db.ts';
import type { LocationCache } from '../store/location-cache.ts';
import type { BackendSpace } from '../store/quotas.ts';

export interface Services {
  config: Config;
  /** Opens the database pool on first use; the entry that built these services closes it. */
  db(): Db;
  /**
   * A configured backend's client; its calls feed the backend's circuit breaker and usage. Throws for a name the
   * configuration does not have (check `config.backends` first where that is expected).
   */
  backend(name: string): BackendClient;
  /** The backends' circuit breakers and monthly usage as this isolate sees them. */
  health: BackendHealth;
  /** A backend's Durable Object: its mode, drain, breaker and usage, one for the whole fleet. */
  backendState(name: string): BackendStateRpc;
  /** Fleet-wide event totals for /metrics; adding is off the caller's path. */
  counters: EventCounters;
  /** The request metrics: counted in this isolate, added up across the fleet in the metrics shards. */
  metrics: RequestMetrics;
  /** Where this request's time goes, phase by phase (store and backend calls are timed as they are made). */
  timing: RequestTiming;
  /** How copies are stored at rest: as is, or sealed with the configured keys. */
  storage: StorageTransform;
  /** The jobs queue (Cloudflare Queues): bulk jobs fan out through it. */
  jobs: JobQueue;
  /** Webhook notifications: emitting queues the event for the endpoints that want it, off the caller's path. */
  notify: Notifier;
  /** The data center's cache for small objects' bytes (objects/edge-cache.ts decides what goes in). */
  objectCache: ObjectCache;
  /** What this isolate remembers between requests. */
  memory: IsolateMemory;
  log: Logger;
  /** Names this request or run in logs. */
  requestId: string;
  /** Changes with every deployment (a digest of the deployed configuration). */
  deployment: string;
  /** The clock (ms since the epoch); the only one domain code reads. */
  now(): number;
  /** Keeps the isolate alive for work that must finish after the response (best effort). */
  waitUntil(promise: Promise<unknown>): void;
}

/** Sends messages to the jobs queue; the queue entry (src/runtime/queue.ts) delivers them to src/jobs/. */
export interface JobQueue {
  send(body: JobMessage): Promise<void>;
  /** Up to 100 messages at once. */
  sendBatch(bodies: readonly JobMessage[]): Promise<void>;
}

/** A message on the jobs queue: plain JSON. */
export type JobMessage = { type: string } & Record<string, unknown>;

/**
 * A cache of responses by URL, local to the data center (Cloudflare's Cache API). Entries expire by their
 * Cache-Control max-age, and the cache may drop any entry sooner.
 */
export interface ObjectCache {
  /** The entry for `url` (with `range`, a 206 of those bytes), or undefined. */
  match(url: string, range?: { start: number; end: number }): Promise<Response | undefined>;
  /** Stores `response` (status 200, a streamed body) under `url`; resolves once the body is stored. */
  put(url: string, response: Response): Promise<void>;
  /** Whether an entry was there to delete. */
  delete(url: string): Promise<boolean>;
}

/** What an isolate has learnt of a backend's PutObject ETags (objects/etag-adoption.ts). */
export interface EtagEvidence {
  /** Answers that matched the Worker's own MD5. */
  matched: number;
  /** An answer did not: every PUT to the backend is hashed on the Worker. */
  refuted: boolean;
  /** ETags taken from the backend since the last check. */
  taken: number;
}

/** The backends' space as an isolate read it last, for every backend then configured (their names, one per line). */
export interface SpaceMemory {
  read?: { names: string; spaces: BackendSpace[]; at: number };
}

/** What an isolate remembers between requests; its one instance is built in src/runtime/isolate.ts. */
export interface IsolateMemory {
  /** Object records read lately, for reads while the database is away. */
  locations: LocationCache;
  /** The configuration whose quota limits were last written to Postgres, and the deployment last checked for
   *  copies on unconfigured backends. */
  quotaSync: { syncedFor: Config | undefined; checkedDeployment: string | undefined };
  /** SigV4 signing keys derived for known secrets (by secret, date, region, service). */
  signingKeys: Map<string, Promise<ArrayBuffer>>;
  /** What this isolate learnt of each backend's ETags (objects/etag-adoption.ts), by backend name. */
  etagEvidence: Map<string, EtagEvidence>;
  /** The backends' space as last read for placement (objects/placement.ts). */
  space: SpaceMemory;
}

export interface OpenedServices {
  services: Services;
  /** Releases the database pool; call once the work is done. */
  close(): Promise<void>;
}

/**
 * How a Durable Object gets services for one call: under the configuration in effect, or undefined when that
 * configuration is unusable (missing or invalid), which the caller reports as such.
 */
export type OpenServices = () => Promise<OpenedServices | undefined>;

/** Runs `work` with freshly opened services and releases them after; `unusable` answers when none can be opened. */
export async function withServices<T>(open: OpenServices, work: (services: Services) => Promise<T>, unusable: () => T | Promise<T>): Promise<T> {
  const opened = await open();
  if (!opened) return unusable();
  try {
    return await work(opened.services);
  } finally {
    opened.services.waitUntil(opened.close().catch(() => {}));
  }
}
