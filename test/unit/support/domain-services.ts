/**
 * The one place domain tests build what the domain takes: the `Services` that operations and jobs receive, over
 * in-memory backends (memory-backend.ts), breakers (memory-health.ts), clock and PGlite database
 * (memory-database.ts). When that shape changes, only this file follows.
 */
import { claimCapacityWarning } from '../../../src/backend-state/capacity-warning.ts';
import { type DrainStepOutcome, drainStep } from '../../../src/backend-state/drain-step.ts';
import type { BackendStateRpc } from '../../../src/backends/backend-state-rpc.ts';
import type { DrainProgress } from '../../../src/backends/backend-state.ts';
import { newDrain } from '../../../src/backends/backend-state.ts';
import type { Config } from '../../../src/config/types.ts';
import { validateConfig } from '../../../src/config/validate.ts';
import { createKeyProvider } from '../../../src/crypto/key-provider.ts';
import { atRestStorage } from '../../../src/crypto/storage-transform.ts';
import { ensureQuotaLimitsSynced } from '../../../src/jobs/quota-sync.ts';
import type { NotificationEvent } from '../../../src/notify/cloud-event.ts';
import type { LogFields, Logger } from '../../../src/observe/log.ts';
import type { JobMessage, Services } from '../../../src/services/services.ts';
import { setBackendMode } from '../../../src/store/backend-states.ts';
import type { Db } from '../../../src/store/db.ts';
import { createLocationCache } from '../../../src/store/location-cache.ts';
import { type ChunkSource, plainSource } from '../../../src/util/chunk-source.ts';
import { ACCOUNTING_QUERY, type AccountingRow, type BackendAccounting, accountingViolations, toAccounting } from '../../support/accounting-invariant.ts';
import { seededBytes } from '../../support/patterns.ts';
import { type MemoryBackend, createMemoryBackend } from './memory-backend.ts';
import { type MemoryDatabase, openMemoryDatabase } from './memory-database.ts';
import { type MemoryHealth, createMemoryHealth } from './memory-health.ts';
import { memoryRequestMetrics } from './memory-metrics.ts';
import { type MemoryObjectCache, createMemoryObjectCache } from './memory-object-cache.ts';
import { createRequestTiming } from '../../../src/observe/request-timing.ts';

export interface DomainOptions {
  /** Backends in config order; a bare name has no quota (unlimited). */
  backends: readonly (string | { name: string; quotaBytes?: number; etagMd5?: 'auto' | 'always' | 'never' })[];
  routingStrategy?: 'pack' | 'spread';
  replicationFactor?: number;
  /** More of the configuration document, in its YAML shape (snake_case), laid over what the options above give. */
  document?: Record<string, unknown>;
  /** Another world whose database and backends this one takes over as they are (a restart with a new configuration). */
  after?: DomainWorld;
}

export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: LogFields;
}

export interface DomainWorld {
  services: Services;
  config: Config;
  db: Db;
  database: MemoryDatabase;
  backend(name: string): MemoryBackend;
  health: MemoryHealth;
  clock: { now(): number; advance(ms: number): void };
  /** Everything logged, in order. */
  logs: LogEntry[];
  /** Fleet event counters (services.counters). */
  events: Map<string, number>;
  /** The edge cache's entries (services.objectCache). */
  objectCache: MemoryObjectCache;
  /** Messages sent to the jobs queue and not yet taken by the test. */
  queued: JobMessage[];
  /** Every notification emitted, in order (whether or not an endpoint would want it). */
  notifications: NotificationEvent[];
  /**
   * Starts a drain as the backend's Durable Object does (the mode in Postgres first) and steps it until it ends.
   * `current` answers false once the test has cancelled it (progress is then no longer saved).
   */
  drain(backend: string, maxSteps?: number, options?: { current?: () => Promise<boolean> }): Promise<{ outcome: DrainStepOutcome; progress: DrainProgress; steps: number }>;
  /** Work handed to waitUntil, settled. */
  settle(): Promise<void>;
  accounting(): Promise<BackendAccounting[]>;
  /** Violations of the accounting invariant (test/support/accounting-invariant.ts); empty when it holds. */
  accountingDrift(): Promise<string[]>;
}

export const BUCKET = 'photos';

let database: Promise<MemoryDatabase> | undefined;

/**
 * Starts the test file's database (about a second, longer on a busy machine); call it from `beforeAll` so that the
 * start-up does not count against the first test's timeout.
 */
export function startDomainDatabase(): Promise<MemoryDatabase> {
  database ??= openMemoryDatabase();
  return database;
}

/** A `beforeAll` timeout that fits the database's start-up even on a busy machine. */
export const DATABASE_START_TIMEOUT_MS = 60_000;

/**
 * Domain tests take a few hundred milliseconds each (a multipart test with a 5 MiB part about a second); on a
 * shared machine ten times that, more than vitest's default 5 s.
 */
export const DOMAIN_TEST_TIMEOUT_MS = 30_000;

/**
 * A fresh world for one test: new backends, breakers, clock and logs, and the test file's database emptied (one
 * PGlite per file: starting one costs about a second, emptying it a few milliseconds).
 */
export async function domainServices(options: DomainOptions): Promise<DomainWorld> {
  const memory = await startDomainDatabase();
  if (!options.after) await memory.reset();
  const config = domainConfig(options);

  let time = Date.UTC(2026, 0, 15, 12);
  const clock = { now: () => time, advance: (ms: number) => void (time += ms) };
  const backends = new Map(config.backends.map((b) => [b.name, options.after?.backend(b.name) ?? createMemoryBackend(b.name)]));
  const health = createMemoryHealth(config.circuitBreaker, clock.now);
  const tracked = new Map([...backends].map(([name, client]) => [name, health.track(client)]));
  const logs: LogEntry[] = [];
  const queued: JobMessage[] = [];
  const notifications: NotificationEvent[] = [];
  const capacityWarnedAt = new Map<string, number>();
  const events = new Map<string, number>();
  const pending: Promise<unknown>[] = [];
  const log = memoryLogger(logs, {});
  const counters = {
    add: (counter: string, by = 1) => void events.set(counter, (events.get(counter) ?? 0) + by),
    read: async () => Object.fromEntries(events),
  };

  const objectCache = createMemoryObjectCache();
  const services: Services = {
    config,
    db: () => memory.db,
    backend(name) {
      const client = tracked.get(name);
      if (!client) throw new Error(`backend "${name}" is not in the configuration`);
      return client;
    },
    health,
    backendState: (name) => memoryBackendState(name, health, capacityWarnedAt),
    counters,
    metrics: memoryRequestMetrics(clock.now),
    timing: createRequestTiming(clock.now),
    jobs: {
      send: async (body) => void queued.push(body),
      sendBatch: async (bodies) => void queued.push(...bodies),
    },
    notify: { emit: (event) => void notifications.push(event) },
    storage: atRestStorage(config.encryption, config.encryption.masterKey ? () => createKeyProvider(config.encryption) : undefined, new Map()),
    objectCache,
    memory: { locations: createLocationCache(), quotaSync: { syncedFor: undefined, checkedDeployment: undefined }, signingKeys: new Map(), etagEvidence: new Map(), space: {} },
    log,
    requestId: 'TESTREQUEST',
    deployment: 'test-deployment',
    now: clock.now,
    waitUntil: (promise) => void pending.push(promise.catch(() => {})),
  };
  await ensureQuotaLimitsSynced(services, { force: true });

  const world: DomainWorld = {
    services,
    objectCache,
    config,
    db: memory.db,
    database: memory,
    backend(name) {
      const backend = backends.get(name);
      if (!backend) throw new Error(`no backend "${name}" in this test`);
      return backend;
    },
    health,
    clock,
    logs,
    events,
    queued,
    notifications,
    async drain(backend, maxSteps = 20, options = {}) {
      await setBackendMode(memory.db, backend, 'draining');
      // The progress lives here, as the backend's Durable Object keeps it.
      let progress = newDrain(undefined, new Date(clock.now()));
      const current = options.current ?? (async () => true);
      const save = async (next: DrainProgress) => {
        if (!(await current())) return false;
        progress = next;
        return true;
      };
      for (let steps = 1; ; steps++) {
        const outcome = await drainStep(services, { backend, deadline: clock.now() + 30_000, save, current }, progress);
        if (outcome.kind === 'done' || outcome.kind === 'stopped' || steps >= maxSteps) return { outcome, progress, steps };
        // A waiting drain is woken by its alarm later; the test's clock gets there at once.
        if (outcome.kind === 'wait') clock.advance(outcome.ms);
      }
    },
    async settle() {
      while (pending.length > 0) await Promise.all(pending.splice(0));
    },
    accounting: async () => toAccounting(await memory.query<AccountingRow>(ACCOUNTING_QUERY)),
    accountingDrift: async () => accountingViolations(await world.accounting()),
  };
  return world;
}

/** The configuration the way an operator writes it, validated by the real validator (so every default applies). */
function domainConfig(options: DomainOptions): Config {
  const document = {
    routing_strategy: options.routingStrategy ?? 'pack',
    replication: { factor: options.replicationFactor ?? 1 },
    buckets: [{ name: BUCKET, credentials: [{ access_key_id: 'test-key', secret_access_key: 'test-secret' }] }],
    backends: options.backends.map((spec) => {
      const { name, quotaBytes = 0, etagMd5 } = typeof spec === 'string' ? { name: spec } : spec;
      const base = { name, endpoint: `https://${name}.backend.invalid`, bucket: `${name}-bucket`, access_key_id: `${name}-key`, secret_access_key: `${name}-secret`, quota_bytes: quotaBytes };
      return etagMd5 === undefined ? base : { ...base, etag_md5: etagMd5 };
    }),
    ...options.document,
  };
  const result = validateConfig(document);
  if (!result.ok) throw new Error(`invalid test configuration: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return result.config;
}

function memoryLogger(entries: LogEntry[], base: LogFields): Logger {
  const at = (level: LogEntry['level']) => (msg: string, fields: LogFields = {}) => void entries.push({ level, msg, fields: { ...base, ...fields } });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), with: (fields) => memoryLogger(entries, { ...base, ...fields }) };
}

/**
 * What jobs may ask a backend's Durable Object: the breaker parts answer from the in-memory breakers; the drain,
 * removal and usage controls are the Durable Object's own logic (tested with it), not the domain's, and refuse.
 */
function memoryBackendState(name: string, health: MemoryHealth, capacityWarnedAt: Map<string, number>): BackendStateRpc {
  const unsupported = (what: string) => () => Promise.reject(new Error(`${what} is the Durable Object's, not modelled in domain tests`));
  const status = () => ({ breaker: health.state(name), usage: health.usage(name) ?? { period: '', apiRequests: 0, egressBytes: 0, ingressBytes: 0 } });
  return {
    snapshot: unsupported('snapshot'),
    startDrain: unsupported('startDrain'),
    cancelDrain: unsupported('cancelDrain'),
    markRemoved: unsupported('markRemoved'),
    removeBackend: unsupported('removeBackend'),
    breaker: async () => health.state(name),
    status: async () => status(),
    addUsage: unsupported('addUsage'),
    flushUsage: unsupported('flushUsage'),
    reportFailure: async () => health.state(name),
    reportSuccess: async () => health.state(name),
    admitCall: async () => ({ allowed: await health.readable(name), state: health.state(name) }),
    countDegradedRead: async () => {
      await health.countDegradedRead(name);
      return health.degradedReads.get(name) ?? 0;
    },
    degradedReads: async () => health.degradedReads.get(name) ?? 0,
    claimCapacityWarning: (now) => claimCapacityWarning({ get: async () => capacityWarnedAt.get(name), put: async (at) => void capacityWarnedAt.set(name, at) }, now),
    ensureAlarm: async () => {},
  };
}

/** A client's body as the S3 layer hands it to the domain. */
export function bodyOf(bytes: Uint8Array): ChunkSource {
  return plainSource(new Response(bytes).body ?? new ReadableStream());
}

/** Deterministic bytes of a given size (distinct per seed), so a read can be checked against what was written. */
export const bytesOf = seededBytes;
