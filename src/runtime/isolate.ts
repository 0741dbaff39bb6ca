/**
 * Everything one isolate remembers between requests, in one place: what services hand to the domain (object
 * records for degraded reads, the quota-sync memo, SigV4 signing keys), the backends' health as last seen, the
 * configuration in effect, the last health probe, the parsed trusted proxies,
 * the request metrics not yet sent, the trace window as last seen and the database load-shedding gate. Module code keeps no other state
 * between requests (besides Neon's driver settings and the Access verifier's key set, which follow their inputs);
 * tests start clean with resetIsolate().
 */
import { type CounterBuffer, createCounterBuffer } from '../observe/fleet-counters.ts';
import { type HealthMemory, createHealthMemory } from '../backends/backend-health.ts';
import { type RefreshedValue, refreshedValue } from '../config/config-store.ts';
import { runtimeSettingsCache } from '../config/runtime-settings.ts';
import { ACTIVE_KEY } from '../config/versions.ts';
import type { LoadResult } from '../config/load.ts';
import type { EncryptionConfig } from '../config/types.ts';
import type { KeyProvider } from '../crypto/key-provider.ts';
import type { DataKeyCache } from '../crypto/storage-transform.ts';
import { type MetricsRecorder, createMetricsRecorder } from '../observe/metrics-recorder.ts';
import { type TraceSampler, createTraceSampler } from '../observe/trace-sampler.ts';
import type { IsolateMemory } from '../services/services.ts';
import { type DatabaseGate, createDatabaseGate } from '../store/database-gate.ts';
import { createLocationCache } from '../store/location-cache.ts';
import type { Cidr } from '../util/client-ip.ts';
import type { ActiveConfig } from './active-config.ts';

export interface Isolate {
  memory: IsolateMemory;
  health: HealthMemory;
  /** Fleet counter adds on their way to the FleetCounters object (observe/fleet-counters.ts). */
  counters: CounterBuffer;
  /** The deployed document as last parsed, and the configuration in effect with the KV record it came from. */
  config: {
    deployed?: { text: string; result: LoadResult; tag: string };
    current?: { deployedText: string; raw: string | null; active: ActiveConfig };
    /** The active KV record, re-read at most every KV_REFRESH_MS. */
    activeRecord: RefreshedValue;
  };
  /** The runtime settings (log level override), re-read at most every KV_REFRESH_MS. */
  runtimeSettings: RefreshedValue;
  /** /health's shared answer: a flood of probes opens at most one connection per period. */
  lastHealth?: { at: number; answer: Promise<string> };
  trustedProxies?: { list: readonly string[]; cidrs: Cidr[] };
  /** The key provider of each encryption configuration seen, and the data keys unwrapped lately. */
  encryption: { providers: WeakMap<EncryptionConfig, Promise<KeyProvider>>; dataKeys: DataKeyCache };
  /** This isolate's request and backend-call counts not yet sent to its metrics shard. */
  metrics: MetricsRecorder;
  /** The trace window as this isolate last saw it, and its samples not yet sent. */
  trace: TraceSampler;
  /** Load shedding: this isolate's database calls running and waiting (src/store/database-gate.ts). */
  databaseGate: DatabaseGate;
}

function freshIsolate(): Isolate {
  return {
    memory: { locations: createLocationCache(), quotaSync: { syncedFor: undefined, checkedDeployment: undefined }, signingKeys: new Map(), etagEvidence: new Map(), space: {} },
    health: createHealthMemory(),
    counters: createCounterBuffer(),
    config: { activeRecord: refreshedValue(ACTIVE_KEY) },
    runtimeSettings: runtimeSettingsCache(),
    encryption: { providers: new WeakMap(), dataKeys: new Map() },
    metrics: createMetricsRecorder(),
    trace: createTraceSampler(),
    databaseGate: createDatabaseGate(),
  };
}

let isolate = freshIsolate();

export function thisIsolate(): Isolate {
  return isolate;
}

/** Forgets everything this isolate remembered (tests only). */
export function resetIsolate(): void {
  isolate = freshIsolate();
}
