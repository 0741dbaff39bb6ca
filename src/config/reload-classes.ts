/**
 * Which settings a pushed configuration version changes at runtime ("reloadable") and which wait for the next
 * deploy ("deploy-only"), after the seed's SIGHUP lists. One table per section; `configChanges` reports every
 * difference with its class, and `applyReloadable` builds the effective configuration from the deployed one and a
 * pushed one. A unit test checks the two agree field by field.
 */
import type { BackendConfig, BucketConfig, Config } from './types.ts';

export type ReloadEffect = 'reloadable' | 'deploy-only';

export interface ConfigChange {
  /** The field's path in the YAML document, with list entries named: `backends[b1].quota_bytes`. */
  field: string;
  change: 'added' | 'removed' | 'changed';
  effect: ReloadEffect;
  /** Old and new value for display; absent for secrets and for whole entries. */
  from?: string;
  to?: string;
}

interface FieldRule<T> {
  key: string;
  value: (item: T) => string;
  effect: ReloadEffect;
  secret?: boolean;
}

const TOP_LEVEL: FieldRule<Config>[] = [
  { key: 'server.log_level', value: (c) => c.server.logLevel, effect: 'reloadable' },
  { key: 'server.max_object_size', value: (c) => String(c.server.maxObjectSize), effect: 'deploy-only' },
  { key: 'server.clock_skew_seconds', value: (c) => String(c.server.clockSkewSeconds), effect: 'deploy-only' },
  { key: 'server.base_domains', value: (c) => c.server.baseDomains.join(', '), effect: 'deploy-only' },
  { key: 'server.regions', value: (c) => c.server.regions.join(', '), effect: 'deploy-only' },
  { key: 'server.backend_timeout', value: (c) => `${c.server.backendTimeoutMs / 1000}s`, effect: 'deploy-only' },
  { key: 'admin.access', value: (c) => (c.admin.access ? `${c.admin.access.teamDomain} (aud ${c.admin.access.audience})` : ''), effect: 'deploy-only' },
  { key: 'admin.token', value: (c) => c.admin.token ?? '', effect: 'deploy-only', secret: true },
  { key: 'routing_strategy', value: (c) => c.routingStrategy, effect: 'deploy-only' },
  { key: 'replication.factor', value: (c) => String(c.replication.factor), effect: 'reloadable' },
  { key: 'replication.worker_interval', value: (c) => `${c.replication.workerIntervalMs / 1000}s`, effect: 'reloadable' },
  { key: 'replication.batch_size', value: (c) => String(c.replication.batchSize), effect: 'reloadable' },
  { key: 'replication.concurrency', value: (c) => String(c.replication.concurrency), effect: 'reloadable' },
  { key: 'replication.unhealthy_threshold', value: (c) => `${c.replication.unhealthyThresholdMs / 1000}s`, effect: 'reloadable' },
  { key: 'usage_flush.interval', value: (c) => `${c.usageFlush.intervalMs / 1000}s`, effect: 'reloadable' },
  { key: 'usage_flush.adaptive_enabled', value: (c) => String(c.usageFlush.adaptiveEnabled), effect: 'reloadable' },
  { key: 'usage_flush.adaptive_threshold', value: (c) => String(c.usageFlush.adaptiveThreshold), effect: 'reloadable' },
  { key: 'usage_flush.fast_interval', value: (c) => `${c.usageFlush.fastIntervalMs / 1000}s`, effect: 'reloadable' },
  { key: 'rate_limit.enabled', value: (c) => String(c.rateLimit.enabled), effect: 'deploy-only' },
  { key: 'rate_limit.requests_per_sec', value: (c) => String(c.rateLimit.requestsPerSec), effect: 'reloadable' },
  { key: 'rate_limit.burst', value: (c) => String(c.rateLimit.burst), effect: 'reloadable' },
  { key: 'rate_limit.trusted_proxies', value: (c) => c.rateLimit.trustedProxies.join(', '), effect: 'deploy-only' },
  { key: 'rate_limit.ipv6_prefix_length', value: (c) => String(c.rateLimit.ipv6PrefixLength), effect: 'deploy-only' },
  { key: 'circuit_breaker.failure_threshold', value: (c) => String(c.circuitBreaker.failureThreshold), effect: 'deploy-only' },
  { key: 'circuit_breaker.open_timeout', value: (c) => `${c.circuitBreaker.openTimeoutMs / 1000}s`, effect: 'deploy-only' },
  { key: 'telemetry.metrics.token', value: (c) => c.telemetry.metricsToken ?? '', effect: 'deploy-only', secret: true },
];

/** Buckets are reloadable as a whole: adding, removing and re-crediting a bucket all apply at once. */
const BUCKET: FieldRule<BucketConfig>[] = [
  { key: 'max_multipart_uploads', value: (b) => String(b.maxMultipartUploads), effect: 'reloadable' },
];

/** A backend's identity and connection are deploy-only; its limits are reloadable. */
const BACKEND: FieldRule<BackendConfig>[] = [
  { key: 'endpoint', value: (b) => b.endpoint, effect: 'deploy-only' },
  { key: 'region', value: (b) => b.region, effect: 'deploy-only' },
  { key: 'bucket', value: (b) => b.bucket, effect: 'deploy-only' },
  { key: 'access_key_id', value: (b) => b.accessKeyId, effect: 'deploy-only' },
  { key: 'secret_access_key', value: (b) => b.secretAccessKey, effect: 'deploy-only', secret: true },
  { key: 'force_path_style', value: (b) => String(b.forcePathStyle), effect: 'deploy-only' },
  { key: 'quota_bytes', value: (b) => String(b.quotaBytes), effect: 'reloadable' },
  { key: 'api_request_limit', value: (b) => String(b.apiRequestLimit), effect: 'reloadable' },
  { key: 'egress_byte_limit', value: (b) => String(b.egressByteLimit), effect: 'reloadable' },
  { key: 'ingress_byte_limit', value: (b) => String(b.ingressByteLimit), effect: 'reloadable' },
];

/** Every difference from `from` to `to`, in document order. */
export function configChanges(from: Config, to: Config): ConfigChange[] {
  const changes: ConfigChange[] = [];
  compareFields(TOP_LEVEL, from, to, '', changes);
  compareNamed(from.buckets, to.buckets, 'buckets', 'reloadable', changes, (a, b, path) => {
    compareFields(BUCKET, a, b, `${path}.`, changes);
    compareCredentials(a, b, path, changes);
  });
  compareNamed(from.backends, to.backends, 'backends', 'deploy-only', changes, (a, b, path) =>
    compareFields(BACKEND, a, b, `${path}.`, changes),
  );
  return changes;
}

/**
 * The configuration in effect: everything from the deployed document, except the reloadable settings, which come
 * from the pushed version. A pushed backend the deployment does not have is ignored until it is deployed.
 */
export function applyReloadable(deployed: Config, pushed: Config): Config {
  return {
    ...deployed,
    server: { ...deployed.server, logLevel: pushed.server.logLevel },
    replication: pushed.replication,
    usageFlush: pushed.usageFlush,
    rateLimit: { ...deployed.rateLimit, requestsPerSec: pushed.rateLimit.requestsPerSec, burst: pushed.rateLimit.burst },
    buckets: pushed.buckets,
    backends: deployed.backends.map((backend) => {
      const limits = pushed.backends.find((b) => b.name === backend.name);
      if (!limits) return backend;
      return {
        ...backend,
        quotaBytes: limits.quotaBytes,
        apiRequestLimit: limits.apiRequestLimit,
        egressByteLimit: limits.egressByteLimit,
        ingressByteLimit: limits.ingressByteLimit,
      };
    }),
  };
}

function compareFields<T>(rules: readonly FieldRule<T>[], from: T, to: T, prefix: string, changes: ConfigChange[]): void {
  for (const rule of rules) {
    const before = rule.value(from);
    const after = rule.value(to);
    if (before === after) continue;
    const change = before === '' ? 'added' : after === '' ? 'removed' : 'changed';
    changes.push({
      field: `${prefix}${rule.key}`,
      change,
      effect: rule.effect,
      ...(rule.secret ? {} : { from: before, to: after }),
    });
  }
}

function compareNamed<T extends { name: string }>(
  from: readonly T[],
  to: readonly T[],
  list: string,
  entryEffect: ReloadEffect,
  changes: ConfigChange[],
  compareEntry: (a: T, b: T, path: string) => void,
): void {
  const after = new Map(to.map((item) => [item.name, item]));
  const before = new Map(from.map((item) => [item.name, item]));
  for (const item of from) {
    const path = `${list}[${item.name}]`;
    const next = after.get(item.name);
    if (next) compareEntry(item, next, path);
    else changes.push({ field: path, change: 'removed', effect: entryEffect });
  }
  for (const item of to) {
    if (!before.has(item.name)) changes.push({ field: `${list}[${item.name}]`, change: 'added', effect: entryEffect });
  }
}

/** Credentials are named by access key id; a changed secret is reported without either value. */
function compareCredentials(from: BucketConfig, to: BucketConfig, path: string, changes: ConfigChange[]): void {
  const before = new Map(from.credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
  const after = new Map(to.credentials.map((c) => [c.accessKeyId, c.secretAccessKey]));
  for (const [id, secret] of before) {
    const field = `${path}.credentials[${id}]`;
    if (!after.has(id)) changes.push({ field, change: 'removed', effect: 'reloadable' });
    else if (after.get(id) !== secret) changes.push({ field: `${field}.secret_access_key`, change: 'changed', effect: 'reloadable' });
  }
  for (const id of after.keys()) {
    if (!before.has(id)) changes.push({ field: `${path}.credentials[${id}]`, change: 'added', effect: 'reloadable' });
  }
}
