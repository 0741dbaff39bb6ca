/** What src/ needs from the Worker's environment; workers/ fills this in from Cloudflare's bindings. */
import type { BackendStateRpc } from '../backends/backend-state-rpc.ts';
import type { ConfigStore } from '../config/config-store.ts';
import type { AdminEventsRpc } from '../observe/admin-events.ts';
import type { FleetCountersRpc } from '../observe/fleet-counters.ts';
import type { MetricsShardRpc } from '../observe/metrics-shard.ts';
import type { TraceCollectorRpc } from '../observe/trace-collector.ts';
import type { NotificationQueue } from '../notify/notifier.ts';
import type { JobQueue } from '../services/services.ts';
import type { RateLimitRpc } from './rate-limit-rpc.ts';

export interface Bindings {
  /** The configuration document (YAML) the Worker was deployed with. */
  configText: string | undefined;
  /** The configuration variables: the Worker vars and secrets `${VAR}` may expand (config/config-variables.ts). */
  vars: Readonly<Record<string, unknown>>;
  databaseUrl: string | undefined;
  /** Local development only: host:port of a WebSocket-to-Postgres bridge standing in for Neon's proxy. */
  databaseLocalProxy: string | undefined;
  /** S3O_ENVIRONMENT: "production" under `--env production`, "development" from the local launcher, else unset. */
  environment: string | undefined;
  /** The config KV namespace: configuration versions and runtime settings. */
  configStore: ConfigStore | undefined;
  /** The Durable Object holding a backend's drain state and progress. */
  backendState(backendName: string): BackendStateRpc;
  /** The Durable Object holding a client IP's token bucket. */
  rateLimiter(key: string): RateLimitRpc;
  /** The Durable Object holding fleet-wide event totals. */
  fleetCounters(): FleetCountersRpc;
  /** The Durable Object holding the fleet's last admin events. */
  adminEvents(): AdminEventsRpc;
  /** One of the METRICS_SHARDS Durable Objects adding up the isolates' request counts. */
  metricsShard(index: number): MetricsShardRpc;
  /** The Durable Object holding the fleet's trace window and its samples. */
  traceCollector(): TraceCollectorRpc;
  /** The jobs queue's producer. */
  jobs: JobQueue;
  /** The notifications queue's producer (absent where wrangler.toml binds none). */
  notifications: NotificationQueue | undefined;
  /** The dashboard's bundled scripts and styles (wrangler.toml [assets]); absent where none are deployed. */
  assets: { fetch(request: Request): Promise<Response> } | undefined;
  waitUntil(promise: Promise<unknown>): void;
}
