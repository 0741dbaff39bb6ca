import { describe, expect, it } from 'vitest';
import { formatProblems, loadConfig } from '../../src/config/load.ts';

const VALID = `
routing_strategy: spread
buckets:
  - name: photos
    credentials:
      - access_key_id: writer
        secret_access_key: writer-secret
backends:
  - name: b2
    endpoint: https://s3.example.com
    bucket: real-bucket
    access_key_id: \${B2_KEY}
    secret_access_key: \${B2_SECRET}
    quota_bytes: 10GiB
`;

describe('loadConfig', () => {
  it('applies defaults, units and ${VAR} expansion (a secret containing $ survives)', () => {
    const result = loadConfig(VALID, { B2_KEY: 'key-id', B2_SECRET: 'se$cret$$x' });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.routingStrategy).toBe('spread');
    expect(result.config.server.maxObjectSize).toBe(5 * 1024 ** 3);
    expect(result.config.backends[0]).toMatchObject({
      accessKeyId: 'key-id',
      secretAccessKey: 'se$cret$$x',
      quotaBytes: 10 * 1024 ** 3,
      region: 'us-east-1',
      forcePathStyle: false,
    });
  });

  it('reports every problem with its path', () => {
    const result = loadConfig(
      `
server: { backend_timeout: 10ms }
routing_strategy: fastest
buckets:
  - name: Bad_Name
    credentials: []
  - name: health
    credentials:
      - access_key_id: k1
        secret_access_key: short
backends:
  - name: a
    endpoint: ftp://x
    bucket: x
    access_key_id: a
    secret_access_key: \${MISSING}
  - name: a
    endpoint: http://host/path
    bucket: y
    access_key_id: a
    secret_access_key: b
    quota_bytes: lots
    colour: blue
`,
      {},
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatProblems(result.problems);
    for (const expected of [
      'backends[0].secret_access_key: ${MISSING} is not set',
      'routing_strategy: must be one of pack, spread',
      'buckets[0].name: must be 3-63 characters',
      'buckets[0].credentials: must have at least one entry',
      'buckets[1].name: "health" is reserved',
      'buckets[1].credentials[0].secret_access_key: must be at least 8 characters',
      'backends[0].endpoint: must use http or https',
      'backends[1].endpoint: must be scheme://host[:port] without a path',
      'backends[1].quota_bytes: must be a byte count',
      'backends[1].colour: unknown key',
      'backends[1].name: duplicate backend name "a"',
      'server.backend_timeout: must be a duration such as "30s", "5m" or "1h" of at least 0.1 s, got "10ms"',
    ]) {
      expect(text).toContain(expected);
    }
  });

  it('refuses a key id used by two buckets and invalid YAML', () => {
    const dup = loadConfig(
      `
buckets:
  - name: one
    credentials: [{ access_key_id: same, secret_access_key: secret-one }]
  - name: two
    credentials: [{ access_key_id: same, secret_access_key: secret-two }]
backends:
  - { name: a, endpoint: "http://h", bucket: b, access_key_id: a, secret_access_key: b }
`,
      {},
    );
    expect(dup.ok || formatProblems(dup.problems)).toContain('buckets[1].credentials[0].access_key_id: access key id is already used at buckets[0]');
    const bad = loadConfig('buckets: [unclosed', {});
    expect(bad.ok || formatProblems(bad.problems)).toMatch(/invalid YAML/);
  });

  it('bounds the clock skew at 15 minutes and checks the regions', () => {
    const result = loadConfig(VALID.replace('routing_strategy: spread', 'routing_strategy: spread\nserver:\n  clock_skew_seconds: 3600\n  regions: [auto, "EU West"]'), { B2_KEY: 'k', B2_SECRET: 's' });
    expect(result.ok).toBe(false);
    const text = result.ok ? '' : formatProblems(result.problems);
    expect(text).toContain('server.clock_skew_seconds: must be at most 900 (15 minutes, as in S3), got 3600');
    expect(text).toContain('server.regions[1]: must be a region name such as us-east-1 or auto');
    const ok = loadConfig(VALID, { B2_KEY: 'k', B2_SECRET: 's' });
    expect(ok.ok && ok.config.server.regions).toEqual(['us-east-1']);
  });

  it('checks the admin section: Access team domain and audience, token length', () => {
    const base = VALID.replace('routing_strategy: spread', 'routing_strategy: spread\nadmin:\n  access:\n    team_domain: http://example.com\n  token: short');
    const result = loadConfig(base, { B2_KEY: 'k', B2_SECRET: 's' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatProblems(result.problems);
    expect(text).toContain('admin.access.audience: is required');
    expect(text).toContain('admin.access.team_domain: must be https://<team>.cloudflareaccess.com');
    expect(text).toContain('admin.token: must be at least 16 characters');
    const good = VALID.replace(
      'routing_strategy: spread',
      'routing_strategy: spread\nadmin:\n  access:\n    team_domain: https://acme.cloudflareaccess.com/\n    audience: abc123',
    );
    const ok = loadConfig(good, { B2_KEY: 'k', B2_SECRET: 's' });
    expect(ok.ok && ok.config.admin).toEqual({ access: { teamDomain: 'https://acme.cloudflareaccess.com', audience: 'abc123' }, token: undefined });
  });

  it('reports every unknown key of a mapping, an entry that is not a mapping once, and rules between keys', () => {
    const result = loadConfig(
      VALID.replace('routing_strategy: spread', 'routing_strategy: spread\nusage_flush: { interval: 5s, fast_interval: 10s }\nserver: { colour: 1, size: 2 }').replace(
        'backends:\n',
        'backends:\n  - just a string\n',
      ),
      { B2_KEY: 'k', B2_SECRET: 's' },
    );
    const text = result.ok ? '' : formatProblems(result.problems);
    expect(text).toContain('server.colour: unknown key (expected one of: log_level,');
    expect(text).toContain('server.size: unknown key');
    expect(text).toContain('usage_flush.fast_interval: must be shorter than usage_flush.interval');
    expect(text).toContain('backends[0]: must be a mapping, got "just a string"');
    expect(text).not.toContain('backends[0].name');
  });
});

describe('cache and database admission settings', () => {
  const problems = (yaml: string) => {
    const result = loadConfig(`${VALID}\n${yaml}`, { B2_KEY: 'k', B2_SECRET: 's' });
    return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
  };

  it('has the cache off by default, and bounds its object size and ttl', () => {
    const off = loadConfig(VALID, { B2_KEY: 'k', B2_SECRET: 's' });
    expect(off.ok && off.config.cache).toEqual({ enabled: false, maxObjectSize: 1048576, ttlMs: 300_000 });
    const on = loadConfig(`${VALID}\ncache: { enabled: true, max_object_size: 64KiB, ttl: 1h }`, { B2_KEY: 'k', B2_SECRET: 's' });
    expect(on.ok && on.config.cache).toEqual({ enabled: true, maxObjectSize: 65536, ttlMs: 3_600_000 });
    expect(problems('cache: { max_object_size: 1GiB }')).toEqual(["cache.max_object_size: must be at most 512MiB (the Cache API's largest entry)"]);
    expect(problems('cache: { ttl: 500ms }')).toEqual(['cache.ttl: must be a duration such as "30s", "5m" or "1h" of at least 1 s, got "500ms"']);
    expect(problems('cache: { ttl: 31d }')).toEqual(['cache.ttl: must be at most 30d']);
    expect(problems('cache: { enabled: maybe }')[0]).toMatch(/^cache.enabled: /);
  });

  it('bounds the database admission settings', () => {
    expect(problems('server: { database_max_in_flight: 0, database_queue: -1, database_queue_timeout: 1ms }')).toEqual([
      'server.database_max_in_flight: must be a whole number >= 1, got 0',
      'server.database_queue: must be a whole number >= 0, got -1',
      'server.database_queue_timeout: must be a duration such as "30s", "5m" or "1h" of at least 0.01 s, got "1ms"',
    ]);
    expect(problems('server: { database_max_in_flight: 1001, database_queue: 100001 }')).toEqual([
      'server.database_max_in_flight: must be at most 1000, got 1001',
      'server.database_queue: must be at most 100000, got 100001',
    ]);
  });
});

describe('encryption settings', () => {
  const KEY_A = btoa(String.fromCharCode(...new Uint8Array(32).fill(1)));
  const KEY_B = btoa(String.fromCharCode(...new Uint8Array(32).fill(2)));
  const load = (section: string, vars: Record<string, string> = {}) => loadConfig(`${VALID}\nencryption:\n${section}`, { B2_KEY: 'k', B2_SECRET: 's', ...vars });
  const problems = (section: string, vars: Record<string, string> = {}) => {
    const result = load(section, vars);
    return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
  };

  it('is off by default, with 64 KiB chunks and the transit mount', () => {
    const off = loadConfig(VALID, { B2_KEY: 'k', B2_SECRET: 's' });
    expect(off.ok && off.config.encryption).toEqual({ enabled: false, masterKey: undefined, previousKeys: [], chunkSize: 65536, vault: undefined });
    const on = load(`  enabled: true\n  master_key: \${KEY}\n  previous_keys: ["${KEY_B}"]\n  chunk_size: 1MiB\n`, { KEY: KEY_A });
    expect(on.ok && on.config.encryption).toEqual({ enabled: true, masterKey: KEY_A, previousKeys: [KEY_B], chunkSize: 1048576, vault: undefined });
    const vault = load('  enabled: true\n  vault: { address: "https://vault.example.com:8200/", token: t0ken, key_name: s3o }\n');
    expect(vault.ok && vault.config.encryption.vault).toEqual({ address: 'https://vault.example.com:8200', token: 't0ken', keyName: 's3o', mountPath: 'transit' });
  });

  it('refuses a key that is not 32 bytes, a chunk size that is no power of two in range, and keys that cannot work together', () => {
    expect(problems('  enabled: true\n  master_key: c2hvcnQ=\n')).toEqual(['encryption.master_key: must be base64 of exactly 32 bytes (e.g. from `openssl rand -base64 32`), best written as ${VAR}']);
    expect(problems(`  master_key: "${KEY_A}"\n  chunk_size: 100000\n`)).toEqual(['encryption.chunk_size: must be a power of two from 4KiB to 1MiB, got 100000']);
    expect(problems(`  master_key: "${KEY_A}"\n  chunk_size: 2MiB\n`)).toEqual(['encryption.chunk_size: must be a power of two from 4KiB to 1MiB, got 2097152']);
    expect(problems(`  master_key: "${KEY_A}"\n  chunk_size: 1KiB\n`)[0]).toMatch(/^encryption.chunk_size: must be a byte count/);
    expect(problems('  enabled: true\n')).toEqual(['encryption.enabled: needs a key: master_key (base64 of 32 bytes, e.g. from `openssl rand -base64 32`) or vault']);
    expect(problems(`  master_key: "${KEY_A}"\n  vault: { address: "https://v.example.com", token: t, key_name: k }\n`)).toEqual([
      'encryption.vault: choose one key provider: master_key or vault, not both',
    ]);
    expect(problems(`  master_key: "${KEY_A}"\n  previous_keys: ["${KEY_B}", "${KEY_A}"]\n`)).toEqual([
      'encryption.previous_keys: a key is listed twice (or is also master_key); each key must appear once',
    ]);
    expect(problems(`  previous_keys: ["${KEY_B}"]\n`)).toEqual(['encryption.previous_keys: need a primary key as well (master_key or vault)']);
    expect(problems('  vault: { address: "http://vault.example.com", token: t, key_name: k }\n')).toEqual([
      'encryption.vault.address: must be https://host[:port] (http only for 127.0.0.1 or localhost, in tests)',
    ]);
  });
});
