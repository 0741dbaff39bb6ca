/** The validated configuration, with every default applied. Units: bytes unless the name says otherwise. */

export type RoutingStrategy = 'pack' | 'spread';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Credential {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface BucketConfig {
  name: string;
  credentials: Credential[];
  /** Cap on concurrently active multipart uploads; 0 means no cap. */
  maxMultipartUploads: number;
}

export interface BackendConfig {
  name: string;
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** 0 means unlimited. */
  quotaBytes: number;
  /** Monthly limits; 0 means unlimited. Enforced by the usage-limits issue. */
  apiRequestLimit: number;
  egressByteLimit: number;
  ingressByteLimit: number;
}

export interface ServerConfig {
  logLevel: LogLevel;
  maxObjectSize: number;
  /** Allowed difference between a signed request's X-Amz-Date and the clock, in seconds. */
  clockSkewSeconds: number;
  /** Hostnames under which `<bucket>.<domain>` requests are virtual-hosted-style; empty means path style only. */
  baseDomains: string[];
  /** Regions a client may name in its credential scope; the first is the one the orchestrator says it is in. */
  regions: string[];
  /** How long a backend may take to start answering a call that sends no streamed body (GET, DELETE, ...). */
  backendTimeoutMs: number;
}

export interface AdminConfig {
  /** Cloudflare Access in front of /admin: the team domain (issuer, JWKS) and the application's audience tag. */
  access: { teamDomain: string; audience: string } | undefined;
  /** Local development only: a bearer token for the admin API, accepted only when S3O_ENVIRONMENT=development. */
  token: string | undefined;
}

export interface TelemetryConfig {
  /** A bearer token a Prometheus scraper may use for /metrics (Access-authorized admins may always read it). */
  metricsToken: string | undefined;
}

export interface ReplicationConfig {
  /** Copies of every object, on distinct backends; 1 turns replication off. */
  factor: number;
  /** How often the replicator runs (it also runs at once after a deploy or a settings change). */
  workerIntervalMs: number;
  /** Objects per run. */
  batchSize: number;
  /** Copies made at the same time (each holds two connections; at most 2 fit an invocation's six). */
  concurrency: number;
  /** A backend unhealthy for this long stops counting toward the factor. */
  unhealthyThresholdMs: number;
}

export interface CircuitBreakerConfig {
  /** Consecutive failed calls (unreachable, 5xx, 429) that open a backend's breaker. */
  failureThreshold: number;
  /** How long an open breaker keeps the backend out before one probe is tried. */
  openTimeoutMs: number;
}

export interface RateLimitConfig {
  enabled: boolean;
  /** Tokens a client IP gains per second. */
  requestsPerSec: number;
  /** The most requests a client IP can make at once. */
  burst: number;
  /** CIDRs whose X-Forwarded-For is believed (the client is the rightmost untrusted address). */
  trustedProxies: string[];
  /** IPv6 clients share one bucket per network of this prefix length (one subscriber usually holds a /64). */
  ipv6PrefixLength: number;
}

export interface UsageFlushConfig {
  /** How often each backend's counted usage is written to Postgres. */
  intervalMs: number;
  /** Flush every `fastIntervalMs` instead while any limit is at least `adaptiveThreshold` used. */
  adaptiveEnabled: boolean;
  adaptiveThreshold: number;
  fastIntervalMs: number;
}

export interface Config {
  server: ServerConfig;
  usageFlush: UsageFlushConfig;
  circuitBreaker: CircuitBreakerConfig;
  rateLimit: RateLimitConfig;
  admin: AdminConfig;
  telemetry: TelemetryConfig;
  replication: ReplicationConfig;
  buckets: BucketConfig[];
  backends: BackendConfig[];
  routingStrategy: RoutingStrategy;
}

/** AWS's own single-PUT ceiling: 5 GiB. */
export const DEFAULT_MAX_OBJECT_SIZE = 5 * 1024 ** 3;
export const DEFAULT_CLOCK_SKEW_SECONDS = 15 * 60;
