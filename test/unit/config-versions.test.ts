import { describe, expect, it } from 'vitest';
import type { ConfigStore } from '../../src/config/config-store.ts';
import { loadConfig } from '../../src/config/load.ts';
import { MASK, maskSecrets } from '../../src/config/mask-secrets.ts';
import { applyReloadable, configChanges } from '../../src/config/reload-classes.ts';
import type { Config } from '../../src/config/types.ts';
import {
  ACTIVE_KEY,
  VersionConflictError,
  activateNewVersion,
  listVersions,
  parseVersionRecord,
  publishDeployedDocument,
  versionKey,
} from '../../src/config/versions.ts';

function config(yaml: string): Config {
  const loaded = loadConfig(yaml, {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.config;
}

const DEPLOYED = config(`
server: { log_level: info, max_object_size: 1000, clock_skew_seconds: 60, base_domains: [s3.example.com] }
admin: { token: deployed-admin-token-1234 }
routing_strategy: pack
buckets:
  - name: photos
    credentials: [{ access_key_id: old-key, secret_access_key: old-secret }]
  - name: gone
    credentials: [{ access_key_id: gone-key, secret_access_key: gone-secret }]
backends:
  - { name: a, endpoint: https://a.example.com, bucket: ba, access_key_id: ka, secret_access_key: sa, quota_bytes: 100 }
  - { name: b, endpoint: https://b.example.com, bucket: bb, access_key_id: kb, secret_access_key: sb }
`);

/** Differs from DEPLOYED in every field the tables know. */
const PUSHED = config(`
server: { log_level: debug, max_object_size: 2000, clock_skew_seconds: 120, base_domains: [s3.example.org], backend_timeout: 5s }
admin: { token: pushed-admin-token-12345 }
telemetry: { metrics: { token: pushed-metrics-token-123 } }
replication: { factor: 2, worker_interval: 10m, batch_size: 10, concurrency: 1, unhealthy_threshold: 1m }
circuit_breaker: { failure_threshold: 2, open_timeout: 10s }
rate_limit: { enabled: true, requests_per_sec: 5, burst: 10, trusted_proxies: [10.0.0.0/8] }
usage_flush: { interval: 10s, adaptive_enabled: true, adaptive_threshold: 0.5, fast_interval: 2s }
routing_strategy: spread
buckets:
  - name: photos
    max_multipart_uploads: 5
    credentials: [{ access_key_id: new-key, secret_access_key: new-secret }]
  - name: added
    credentials: [{ access_key_id: added-key, secret_access_key: added-secret }]
backends:
  - name: a
    endpoint: https://a2.example.com
    region: eu-west-1
    bucket: ba2
    access_key_id: ka2
    secret_access_key: sa2
    force_path_style: true
    quota_bytes: 200
    api_request_limit: 1
    egress_byte_limit: 2
    ingress_byte_limit: 3
  - { name: c, endpoint: https://c.example.com, bucket: bc, access_key_id: kc, secret_access_key: sc }
`);

describe('reload classes', () => {
  it('applies exactly the reloadable fields of a pushed version', () => {
    const effective = applyReloadable(DEPLOYED, PUSHED);
    const applied = configChanges(DEPLOYED, effective);
    expect(applied.every((c) => c.effect === 'reloadable')).toBe(true);
    expect(applied.map((c) => c.field).sort()).toEqual(
      [
        'server.log_level',
        'replication.factor',
        'replication.worker_interval',
        'replication.batch_size',
        'replication.concurrency',
        'replication.unhealthy_threshold',
        'rate_limit.requests_per_sec',
        'rate_limit.burst',
        'usage_flush.interval',
        'usage_flush.adaptive_enabled',
        'usage_flush.adaptive_threshold',
        'usage_flush.fast_interval',
        'buckets[photos].max_multipart_uploads',
        'buckets[photos].credentials[old-key]',
        'buckets[photos].credentials[new-key]',
        'buckets[gone]',
        'buckets[added]',
        'backends[a].quota_bytes',
        'backends[a].api_request_limit',
        'backends[a].egress_byte_limit',
        'backends[a].ingress_byte_limit',
      ].sort(),
    );
    // What is left between the effective and the pushed document is deploy-only, every field of it.
    const waiting = configChanges(effective, PUSHED);
    expect(waiting.every((c) => c.effect === 'deploy-only')).toBe(true);
    expect(waiting.map((c) => c.field).sort()).toEqual(
      [
        'server.max_object_size',
        'server.clock_skew_seconds',
        'server.base_domains',
        'server.backend_timeout',
        'admin.token',
        'routing_strategy',
        'telemetry.metrics.token',
        'circuit_breaker.failure_threshold',
        'circuit_breaker.open_timeout',
        'rate_limit.enabled',
        'rate_limit.trusted_proxies',
        'backends[a].endpoint',
        'backends[a].region',
        'backends[a].bucket',
        'backends[a].access_key_id',
        'backends[a].secret_access_key',
        'backends[a].force_path_style',
        'backends[b]',
        'backends[c]',
      ].sort(),
    );
  });

  it('never shows a secret value, old or new', () => {
    const text = JSON.stringify(configChanges(DEPLOYED, PUSHED));
    for (const secret of ['old-secret', 'new-secret', 'sa2', 'deployed-admin-token-1234', 'pushed-admin-token-12345']) {
      expect(text).not.toContain(secret);
    }
    expect(configChanges(DEPLOYED, PUSHED)).toContainEqual({ field: 'routing_strategy', change: 'changed', effect: 'deploy-only', from: 'pack', to: 'spread' });
  });

  it('reports a rotated secret under its key id, and nothing for an identical document', () => {
    const rotated = config(`
buckets: [{ name: photos, credentials: [{ access_key_id: key1, secret_access_key: secret-one }] }]
backends: [{ name: a, endpoint: https://a.example.com, bucket: b, access_key_id: k, secret_access_key: s }]`);
    const before = config(`
buckets: [{ name: photos, credentials: [{ access_key_id: key1, secret_access_key: secret-two }] }]
backends: [{ name: a, endpoint: https://a.example.com, bucket: b, access_key_id: k, secret_access_key: s }]`);
    expect(configChanges(before, rotated)).toEqual([{ field: 'buckets[photos].credentials[key1].secret_access_key', change: 'changed', effect: 'reloadable' }]);
    expect(configChanges(before, before)).toEqual([]);
  });
});

describe('maskSecrets', () => {
  it('masks secret values, keeps ${VAR} references, comments and everything else', () => {
    const masked = maskSecrets(`# production
admin:
  token: very-secret-token-value
buckets:
  - name: photos # the app
    credentials:
      - access_key_id: AKIA1
        secret_access_key: "plain secret"
backends:
  - name: a
    secret_access_key: \${A_SECRET}
`);
    expect(masked).not.toContain('very-secret-token-value');
    expect(masked).not.toContain('plain secret');
    expect(masked).toContain(`token: "${MASK}"`);
    expect(masked).toContain('secret_access_key: ${A_SECRET}');
    expect(masked).toContain('access_key_id: AKIA1');
    expect(masked).toContain('# the app');
    expect(masked).toContain('# production');
  });
});

function memoryStore(): ConfigStore & { data: Map<string, { value: string; metadata?: unknown }> } {
  const data = new Map<string, { value: string; metadata?: unknown }>();
  return {
    data,
    get: async (key) => data.get(key)?.value ?? null,
    put: async (key, value, metadata) => void data.set(key, { value, metadata }),
    // Two keys per page, to exercise the cursor.
    list: async (prefix, cursor) => {
      const names = [...data.keys()].filter((k) => k.startsWith(prefix)).sort();
      const start = cursor ? Number(cursor) : 0;
      const keys = names.slice(start, start + 2).map((name) => ({ name, metadata: data.get(name)?.metadata }));
      return { keys, ...(start + 2 < names.length ? { cursor: String(start + 2) } : {}) };
    },
  };
}

describe('configuration versions in KV', () => {
  it('numbers versions, keeps every one, and makes the newest active', async () => {
    const store = memoryStore();
    for (const n of [1, 2, 3]) {
      const record = await activateNewVersion(store, { yaml: `v: ${n}`, source: 'push', by: 'alice', note: `n${n}` }, new Date(Date.UTC(2026, 0, n)));
      expect(record.version).toBe(n);
    }
    expect(parseVersionRecord((await store.get(ACTIVE_KEY)) ?? '')).toMatchObject({ version: 3, yaml: 'v: 3', by: 'alice' });
    const history = await listVersions(store);
    expect(history.map((v) => v.version)).toEqual([3, 2, 1]);
    expect(history[2]).toEqual({ version: 1, createdAt: '2026-01-01T00:00:00.000Z', source: 'push', by: 'alice', note: 'n1' });
  });

  it('continues numbering past a hand-broken active record, and refuses a number already taken', async () => {
    const store = memoryStore();
    await activateNewVersion(store, { yaml: 'a: 1', source: 'push', by: 'x' });
    await store.put(ACTIVE_KEY, 'not json');
    expect((await activateNewVersion(store, { yaml: 'a: 2', source: 'push', by: 'x' })).version).toBe(2);
    // Another writer stored version 3 but has not updated the active record yet.
    await store.put(ACTIVE_KEY, JSON.stringify({ version: 1, yaml: 'a: 1' }));
    await store.put(versionKey(3), JSON.stringify({ version: 3, yaml: 'a: 3' }));
    const listOnlyTo2: ConfigStore = { ...store, list: async () => ({ keys: [{ name: versionKey(2) }] }) };
    await expect(activateNewVersion(listOnlyTo2, { yaml: 'a: 4', source: 'push', by: 'x' })).rejects.toBeInstanceOf(VersionConflictError);
  });

  it('publishes a deployed document once', async () => {
    const store = memoryStore();
    expect(await publishDeployedDocument(store, 'doc: 1')).toEqual({ version: 1, published: true });
    expect(await publishDeployedDocument(store, 'doc: 1')).toEqual({ version: 1, published: false });
    expect(await publishDeployedDocument(store, 'doc: 2')).toEqual({ version: 2, published: true });
    expect(parseVersionRecord((await store.get(ACTIVE_KEY)) ?? '')).toMatchObject({ source: 'deploy', by: 'deploy' });
  });

  it('rejects records that are not versions, with a reason', () => {
    expect(() => parseVersionRecord('routing_strategy: pack')).toThrow(/not JSON/);
    expect(() => parseVersionRecord('{"version": 0, "yaml": "x"}')).toThrow(/positive "version"/);
    expect(() => parseVersionRecord('{"version": 2}')).toThrow(/"yaml"/);
  });
});
