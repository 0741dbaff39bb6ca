/**
 * The validated configuration, with every default applied: the schema's output (schema.ts), where each field is
 * described. Units: bytes, and milliseconds for names ending in Ms.
 */
import type { InferOutput } from 'valibot';
import type { configDocument } from './schema.ts';

export type Config = InferOutput<(typeof configDocument)['schema']>;
export type ServerConfig = Config['server'];
export type AdminConfig = Config['admin'];
export type TelemetryConfig = Config['telemetry'];
export type ReplicationConfig = Config['replication'];
export type RebalanceConfig = Config['rebalance'];
export type ReconcileConfig = Config['reconcile'];
export type IntegrityConfig = Config['integrity'];
export type UsageFlushConfig = Config['usageFlush'];
export type RateLimitConfig = Config['rateLimit'];
export type CircuitBreakerConfig = Config['circuitBreaker'];
export type EncryptionConfig = Config['encryption'];
export type LifecycleConfig = Config['lifecycle'];
export type LifecycleRule = LifecycleConfig['rules'][number];
export type CleanupQueueConfig = Config['cleanupQueue'];
export type NotificationsConfig = Config['notifications'];
export type NotificationEndpoint = NotificationsConfig['endpoints'][number];
export type BucketConfig = Config['buckets'][number];
export type Credential = BucketConfig['credentials'][number];
export type BackendConfig = Config['backends'][number];
export type RoutingStrategy = Config['routingStrategy'];
export type LogLevel = ServerConfig['logLevel'];
