/**
 * Turns a parsed (and variable-expanded) document into a Config, reporting every problem with its path.
 * The document shape follows the reference's YAML (snake_case keys).
 */
import { parseCidr } from '../util/client-ip.ts';
import {
  type Doc,
  type ProblemList,
  isDoc,
  join,
  readBoolean,
  readCount,
  readDuration,
  readEnum,
  readList,
  readSection,
  readString,
  rejectUnknownKeys,
  report,
} from './fields.ts';
import {
  type AdminConfig,
  type BackendConfig,
  type BucketConfig,
  type Config,
  type Credential,
  type ServerConfig,
  type CircuitBreakerConfig,
  type RateLimitConfig,
  type UsageFlushConfig,
  type ReplicationConfig,
  type TelemetryConfig,
  DEFAULT_CLOCK_SKEW_SECONDS,
  DEFAULT_MAX_OBJECT_SIZE,
} from './types.ts';

const TOP_LEVEL_KEYS = ['server', 'admin', 'telemetry', 'replication', 'circuit_breaker', 'rate_limit', 'usage_flush', 'buckets', 'backends', 'routing_strategy'] as const;
const USAGE_FLUSH_KEYS = ['interval', 'adaptive_enabled', 'adaptive_threshold', 'fast_interval'] as const;
const RATE_LIMIT_KEYS = ['enabled', 'requests_per_sec', 'burst', 'trusted_proxies', 'ipv6_prefix_length'] as const;
const BREAKER_KEYS = ['failure_threshold', 'open_timeout'] as const;
const REPLICATION_KEYS = ['factor', 'worker_interval', 'batch_size', 'concurrency', 'unhealthy_threshold'] as const;
const TELEMETRY_KEYS = ['metrics'] as const;
const METRICS_KEYS = ['token'] as const;
const ADMIN_KEYS = ['access', 'token'] as const;
const ACCESS_KEYS = ['team_domain', 'audience'] as const;
const SERVER_KEYS = ['log_level', 'max_object_size', 'clock_skew_seconds', 'base_domains', 'backend_timeout', 'regions'] as const;
/** AWS allows 15 minutes of skew; a wider window only lengthens how long a captured request can be replayed. */
const MAX_CLOCK_SKEW_SECONDS = 900;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const BUCKET_KEYS = ['name', 'credentials', 'max_multipart_uploads'] as const;
const CREDENTIAL_KEYS = ['access_key_id', 'secret_access_key'] as const;
const BACKEND_KEYS = [
  'name',
  'endpoint',
  'region',
  'bucket',
  'access_key_id',
  'secret_access_key',
  'force_path_style',
  'quota_bytes',
  'api_request_limit',
  'egress_byte_limit',
  'ingress_byte_limit',
] as const;

/** Paths the Worker answers itself; a virtual bucket of that name would be unreachable. */
const RESERVED_BUCKET_NAMES = new Set(['health', 'metrics', 'admin', 'ui']);
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const BACKEND_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export type ValidationResult = { ok: true; config: Config } | { ok: false; problems: ProblemList };

export function validateConfig(input: unknown): ValidationResult {
  const problems: ProblemList = [];
  if (!isDoc(input)) {
    report(problems, '', 'the configuration must be a YAML mapping at the top level');
    return { ok: false, problems };
  }
  rejectUnknownKeys(input, TOP_LEVEL_KEYS, '', problems);
  const config: Config = {
    server: readServer(readSection(input, 'server', '', problems), problems),
    admin: readAdmin(readSection(input, 'admin', '', problems), problems),
    telemetry: readTelemetry(readSection(input, 'telemetry', '', problems), problems),
    replication: readReplication(readSection(input, 'replication', '', problems), problems),
    circuitBreaker: readCircuitBreaker(readSection(input, 'circuit_breaker', '', problems), problems),
    rateLimit: readRateLimit(readSection(input, 'rate_limit', '', problems), problems),
    usageFlush: readUsageFlush(readSection(input, 'usage_flush', '', problems), problems),
    buckets: readList(input, 'buckets', '', problems, true).map((b, i) => readBucket(b, join('buckets', i), problems)),
    backends: readList(input, 'backends', '', problems, true).map((b, i) =>
      readBackend(b, join('backends', i), problems),
    ),
    routingStrategy: readEnum(input, 'routing_strategy', '', problems, ['pack', 'spread'] as const, 'pack'),
  };
  checkUniqueness(config, problems);
  if (config.replication.factor > config.backends.length && config.backends.length > 0) {
    report(problems, 'replication.factor', `must be at most the number of backends (${config.backends.length}), got ${config.replication.factor}`);
  }
  return problems.length === 0 ? { ok: true, config } : { ok: false, problems };
}

function readServer(doc: Doc, problems: ProblemList): ServerConfig {
  rejectUnknownKeys(doc, SERVER_KEYS, 'server', problems);
  return {
    logLevel: readEnum(doc, 'log_level', 'server', problems, ['debug', 'info', 'warn', 'error'] as const, 'info'),
    maxObjectSize: readCount(doc, 'max_object_size', 'server', problems, {
      fallback: DEFAULT_MAX_OBJECT_SIZE,
      units: 'bytes',
      min: 1,
    }),
    clockSkewSeconds: readClockSkew(doc, problems),
    regions: readRegions(doc, problems),
    baseDomains: readList(doc, 'base_domains', 'server', problems, false).flatMap((value, i) => {
      const path = join(join('server', 'base_domains'), i);
      if (typeof value !== 'string' || !HOSTNAME.test(value)) {
        report(problems, path, 'must be a lower-case hostname such as s3.example.com');
        return [];
      }
      return [value];
    }),
    backendTimeoutMs: readDuration(doc, 'backend_timeout', 'server', problems, { fallbackMs: 30_000, minMs: 100 }),
  };
}

function readClockSkew(doc: Doc, problems: ProblemList): number {
  const seconds = readCount(doc, 'clock_skew_seconds', 'server', problems, { fallback: DEFAULT_CLOCK_SKEW_SECONDS, min: 1 });
  if (seconds <= MAX_CLOCK_SKEW_SECONDS) return seconds;
  report(problems, 'server.clock_skew_seconds', `must be at most ${MAX_CLOCK_SKEW_SECONDS} (15 minutes, as in S3), got ${seconds}`);
  return DEFAULT_CLOCK_SKEW_SECONDS;
}

function readRegions(doc: Doc, problems: ProblemList): string[] {
  if (doc.regions === undefined || doc.regions === null) return ['us-east-1'];
  const regions = readList(doc, 'regions', 'server', problems, true).flatMap((value, i) => {
    if (typeof value === 'string' && REGION.test(value)) return [value];
    report(problems, join(join('server', 'regions'), i), 'must be a region name such as us-east-1 or auto');
    return [];
  });
  return regions.length > 0 ? regions : ['us-east-1'];
}

function readAdmin(doc: Doc, problems: ProblemList): AdminConfig {
  rejectUnknownKeys(doc, ADMIN_KEYS, 'admin', problems);
  const accessDoc = readSection(doc, 'access', 'admin', problems);
  let access: AdminConfig['access'];
  if (Object.keys(accessDoc).length > 0) {
    rejectUnknownKeys(accessDoc, ACCESS_KEYS, 'admin.access', problems);
    const teamDomain = readString(accessDoc, 'team_domain', 'admin.access', problems, { required: true });
    const audience = readString(accessDoc, 'audience', 'admin.access', problems, { required: true });
    if (teamDomain && !/^https:\/\/[a-z0-9.-]+$|^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(teamDomain.replace(/\/+$/, ''))) {
      report(problems, 'admin.access.team_domain', 'must be https://<team>.cloudflareaccess.com (http only for 127.0.0.1 or localhost, in tests)');
    }
    access = { teamDomain: teamDomain.replace(/\/+$/, ''), audience };
  }
  const token = readString(doc, 'token', 'admin', problems) || undefined;
  if (token !== undefined && token.length < 16) report(problems, 'admin.token', 'must be at least 16 characters');
  return { access, token };
}

function readTelemetry(doc: Doc, problems: ProblemList): TelemetryConfig {
  rejectUnknownKeys(doc, TELEMETRY_KEYS, 'telemetry', problems);
  const metrics = readSection(doc, 'metrics', 'telemetry', problems);
  rejectUnknownKeys(metrics, METRICS_KEYS, 'telemetry.metrics', problems);
  const token = readString(metrics, 'token', 'telemetry.metrics', problems) || undefined;
  if (token !== undefined && token.length < 16) report(problems, 'telemetry.metrics.token', 'must be at least 16 characters');
  return { metricsToken: token };
}

function readUsageFlush(doc: Doc, problems: ProblemList): UsageFlushConfig {
  rejectUnknownKeys(doc, USAGE_FLUSH_KEYS, 'usage_flush', problems);
  const intervalMs = readDuration(doc, 'interval', 'usage_flush', problems, { fallbackMs: 30_000, minMs: 1000 });
  const fastIntervalMs = readDuration(doc, 'fast_interval', 'usage_flush', problems, { fallbackMs: 5000, minMs: 1000 });
  if (fastIntervalMs >= intervalMs && doc.fast_interval !== undefined) report(problems, 'usage_flush.fast_interval', 'must be shorter than usage_flush.interval');
  let adaptiveThreshold = 0.8;
  const threshold = doc.adaptive_threshold;
  if (threshold !== undefined && threshold !== null) {
    if (typeof threshold === 'number' && threshold > 0 && threshold < 1) adaptiveThreshold = threshold;
    else report(problems, 'usage_flush.adaptive_threshold', `must be a number between 0 and 1 (exclusive), got ${JSON.stringify(threshold)}`);
  }
  return { intervalMs, adaptiveEnabled: readBoolean(doc, 'adaptive_enabled', 'usage_flush', problems, false), adaptiveThreshold, fastIntervalMs };
}

function readRateLimit(doc: Doc, problems: ProblemList): RateLimitConfig {
  rejectUnknownKeys(doc, RATE_LIMIT_KEYS, 'rate_limit', problems);
  const requestsPerSec = readCount(doc, 'requests_per_sec', 'rate_limit', problems, { fallback: 100, min: 1 });
  const burst = readCount(doc, 'burst', 'rate_limit', problems, { fallback: Math.max(200, requestsPerSec), min: 1 });
  // Checked even while disabled, so turning it on never meets a bad list.
  const trustedProxies = readList(doc, 'trusted_proxies', 'rate_limit', problems, false).flatMap((value, i) => {
    if (typeof value === 'string' && parseCidr(value)) return [value];
    report(problems, join(join('rate_limit', 'trusted_proxies'), i), `must be an IP address or CIDR such as 10.0.0.0/8 or 2001:db8::/32, got ${JSON.stringify(value)}`);
    return [];
  });
  const ipv6PrefixLength = readCount(doc, 'ipv6_prefix_length', 'rate_limit', problems, { fallback: 64, min: 1 });
  if (ipv6PrefixLength > 128) report(problems, 'rate_limit.ipv6_prefix_length', `must be at most 128, got ${ipv6PrefixLength}`);
  return { enabled: readBoolean(doc, 'enabled', 'rate_limit', problems, false), requestsPerSec, burst, trustedProxies, ipv6PrefixLength };
}

function readCircuitBreaker(doc: Doc, problems: ProblemList): CircuitBreakerConfig {
  rejectUnknownKeys(doc, BREAKER_KEYS, 'circuit_breaker', problems);
  return {
    failureThreshold: readCount(doc, 'failure_threshold', 'circuit_breaker', problems, { fallback: 5, min: 1 }),
    openTimeoutMs: readDuration(doc, 'open_timeout', 'circuit_breaker', problems, { fallbackMs: 60_000, minMs: 1000 }),
  };
}

function readReplication(doc: Doc, problems: ProblemList): ReplicationConfig {
  rejectUnknownKeys(doc, REPLICATION_KEYS, 'replication', problems);
  const count = (key: string, fallback: number, max?: number) => {
    const value = readCount(doc, key, 'replication', problems, { fallback, min: 1 });
    if (max !== undefined && value > max) {
      report(problems, join('replication', key), `must be at most ${max}, got ${value}`);
      return fallback;
    }
    return value;
  };
  return {
    factor: count('factor', 1),
    workerIntervalMs: readDuration(doc, 'worker_interval', 'replication', problems, { fallbackMs: 5 * 60_000, minMs: 60_000 }),
    batchSize: count('batch_size', 50, 10_000),
    concurrency: count('concurrency', 2, 2),
    unhealthyThresholdMs: readDuration(doc, 'unhealthy_threshold', 'replication', problems, { fallbackMs: 10 * 60_000, minMs: 1000 }),
  };
}

function readBucket(value: unknown, path: string, problems: ProblemList): BucketConfig {
  const doc = asSection(value, path, problems);
  rejectUnknownKeys(doc, BUCKET_KEYS, path, problems);
  const name = readString(doc, 'name', path, problems, { required: true });
  if (name && !BUCKET_NAME.test(name)) {
    report(problems, join(path, 'name'), 'must be 3-63 characters of a-z, 0-9, "." and "-", starting and ending with a letter or digit');
  } else if (RESERVED_BUCKET_NAMES.has(name)) {
    report(problems, join(path, 'name'), `"${name}" is reserved for the orchestrator's own routes`);
  }
  const credentials = readList(doc, 'credentials', path, problems, true).map((c, i) =>
    readCredential(c, join(join(path, 'credentials'), i), problems),
  );
  return {
    name,
    credentials,
    maxMultipartUploads: readCount(doc, 'max_multipart_uploads', path, problems, { fallback: 0 }),
  };
}

function readCredential(value: unknown, path: string, problems: ProblemList): Credential {
  const doc = asSection(value, path, problems);
  rejectUnknownKeys(doc, CREDENTIAL_KEYS, path, problems);
  const accessKeyId = readString(doc, 'access_key_id', path, problems, { required: true });
  const secretAccessKey = readString(doc, 'secret_access_key', path, problems, { required: true });
  if (accessKeyId && !/^[A-Za-z0-9_+=,.@-]{3,128}$/.test(accessKeyId)) {
    report(problems, join(path, 'access_key_id'), 'must be 3-128 characters of letters, digits and _+=,.@-');
  }
  if (secretAccessKey && secretAccessKey.length < 8) {
    report(problems, join(path, 'secret_access_key'), 'must be at least 8 characters');
  }
  return { accessKeyId, secretAccessKey };
}

function readBackend(value: unknown, path: string, problems: ProblemList): BackendConfig {
  const doc = asSection(value, path, problems);
  rejectUnknownKeys(doc, BACKEND_KEYS, path, problems);
  const name = readString(doc, 'name', path, problems, { required: true });
  if (name && !BACKEND_NAME.test(name)) {
    report(problems, join(path, 'name'), 'must be 1-63 characters of letters, digits and _.-');
  }
  const endpoint = readString(doc, 'endpoint', path, problems, { required: true });
  if (endpoint) checkEndpoint(endpoint, join(path, 'endpoint'), problems);
  const limit = (key: string) => readCount(doc, key, path, problems, { fallback: 0, units: 'bytes' });
  return {
    name,
    endpoint: endpoint.replace(/\/+$/, ''),
    region: readString(doc, 'region', path, problems, { fallback: 'us-east-1' }),
    bucket: readString(doc, 'bucket', path, problems, { required: true }),
    accessKeyId: readString(doc, 'access_key_id', path, problems, { required: true }),
    secretAccessKey: readString(doc, 'secret_access_key', path, problems, { required: true }),
    forcePathStyle: readBoolean(doc, 'force_path_style', path, problems, false),
    quotaBytes: limit('quota_bytes'),
    apiRequestLimit: readCount(doc, 'api_request_limit', path, problems, { fallback: 0 }),
    egressByteLimit: limit('egress_byte_limit'),
    ingressByteLimit: limit('ingress_byte_limit'),
  };
}

function checkEndpoint(endpoint: string, path: string, problems: ProblemList): void {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    report(problems, path, `must be an absolute http(s) URL, got ${JSON.stringify(endpoint)}`);
    return;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    report(problems, path, `must use http or https, got ${url.protocol}`);
  } else if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    report(problems, path, 'must be scheme://host[:port] without a path or query (the bucket goes in "bucket")');
  }
}

function asSection(value: unknown, path: string, problems: ProblemList): Doc {
  if (isDoc(value)) return value;
  report(problems, path, 'must be a mapping');
  return {};
}

function checkUniqueness(config: Config, problems: ProblemList): void {
  firstDuplicates(config.buckets.map((b) => b.name)).forEach((i) =>
    report(problems, `buckets[${i}].name`, `duplicate bucket name "${config.buckets[i]?.name}"`),
  );
  firstDuplicates(config.backends.map((b) => b.name)).forEach((i) =>
    report(problems, `backends[${i}].name`, `duplicate backend name "${config.backends[i]?.name}"`),
  );
  const keyOwners = new Map<string, string>();
  config.buckets.forEach((bucket, b) =>
    bucket.credentials.forEach((cred, c) => {
      if (!cred.accessKeyId) return;
      const here = `buckets[${b}].credentials[${c}].access_key_id`;
      const first = keyOwners.get(cred.accessKeyId);
      if (first) report(problems, here, `access key id is already used at ${first}; each key must be unique`);
      else keyOwners.set(cred.accessKeyId, here);
    }),
  );
}

/** Indexes of entries that repeat an earlier non-empty entry. */
function firstDuplicates(values: string[]): number[] {
  const seen = new Set<string>();
  const dupes: number[] = [];
  values.forEach((v, i) => {
    if (!v) return;
    if (seen.has(v)) dupes.push(i);
    seen.add(v);
  });
  return dupes;
}
