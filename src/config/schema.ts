/**
 * The configuration document, every key once: how it is read and checked, its Config name, its default, whether a
 * pushed change reloads or waits for a deploy, and what docs/configuration.md says about it (the tables there are
 * generated from this file by `node scripts/config-docs.ts`; a unit test fails when they drift).
 * Units in Config: bytes, and milliseconds for durations.
 */
import * as v from 'valibot';
import { fromBase64 } from '../crypto/encoding.ts';
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE } from '../crypto/envelope-format.ts';
import { parseCidr } from '../util/client-ip.ts';
import { choice, count, duration, flag, fraction, optionalText, size, stringList, text } from './fields.ts';
import { finished, key, optionalSection, section } from './schema-kit.ts';
import { backends, buckets } from './schema-lists.ts';
import { cleanupQueue, lifecycle } from './schema-lifecycle.ts';
import { notifications } from './schema-notifications.ts';

/** The log levels, least severe first. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const REGION = /^[a-z0-9][a-z0-9-]{0,62}$/;
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const TEAM_DOMAIN = /^https:\/\/[a-z0-9.-]+$|^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/;
const withoutTrailingSlash = (url: string) => url.replace(/\/+$/, '');
const atLeast16 = (token: string) => (token.length < 16 ? 'must be at least 16 characters' : undefined);

const server = section({
  log_level: key('logLevel', choice(LOG_LEVELS, 'info'), {
    reload: 'reloadable',
    meaning: '`debug`, `info`, `warn` or `error`; JSON log lines below it are dropped. `admin log-level -set LEVEL` overrides it at runtime for the whole fleet (see admin-api.md)',
  }),
  max_object_size: key('maxObjectSize', size('5GiB', 1), {
    reload: 'deploy-only',
    meaning: 'largest single PutObject; larger uploads get `400 EntityTooLarge` before any byte is read',
  }),
  clock_skew_seconds: key('clockSkewSeconds', count(900, 1, { value: 900, why: '15 minutes, as in S3' }), {
    reload: 'deploy-only',
    meaning: "how far a header-signed request's `X-Amz-Date` may be from the Worker's clock (`403 RequestTimeTooSkewed`); at most `900` (S3's own 15 minutes: a wider window only lets a captured request be replayed for longer)",
  }),
  regions: key('regions', stringList(['us-east-1'], (region) => REGION.test(region), () => 'must be a region name such as us-east-1 or auto'), {
    reload: 'deploy-only',
    meaning: 'the regions a client may name in its credential scope (`.../<date>/<region>/s3/aws4_request`); another region is refused with `400 AuthorizationHeaderMalformed` (`AuthorizationQueryParametersError` for presigned URLs) naming the first entry in `<Region>`, as S3 does. Add e.g. `auto` for clients configured the R2 way',
  }),
  base_domains: key('baseDomains', stringList([], (host) => HOSTNAME.test(host), () => 'must be a lower-case hostname such as s3.example.com'), {
    reload: 'deploy-only',
    meaning: 'hostnames (e.g. `s3.example.com`) under which `<bucket>.<domain>` requests are virtual-hosted style; any other Host is path style. Route `*.s3.example.com` to the Worker in `[env.production]`',
  }),
  database_max_in_flight: key('databaseMaxInFlight', count(32, 1, { value: 1000 }), {
    reload: 'reloadable',
    meaning: 'database calls (a statement, a write\'s commit batch, a transaction) one isolate runs at once (1-1000); more wait in its queue',
  }),
  database_queue: key('databaseQueue', count(256, 0, { value: 100_000 }), {
    reload: 'reloadable',
    meaning: 'database calls one isolate lets wait for a turn (0-100000); a request whose call finds the queue full is answered `503 SlowDown` with `Retry-After: 1` at once (load shedding), counted in `s3o_database_shed_total{reason="queue-full"}`',
  }),
  database_queue_timeout: key('databaseQueueTimeoutMs', duration('5s', '10ms'), {
    reload: 'reloadable',
    meaning: 'how long a database call may wait for its turn (at least `10ms`); one that waited longer is answered `503 SlowDown` with `Retry-After: 1` (`s3o_database_shed_total{reason="waited-too-long"}`)',
  }),
  backend_timeout: key('backendTimeoutMs', duration('30s', '100ms'), {
    reload: 'deploy-only',
    meaning: 'how long a backend may take to start answering a GET, DELETE, CreateMultipartUpload or AbortMultipartUpload (at least `100ms`). A backend that does not answer in time has failed that call: it counts toward its circuit breaker and a read goes on to the next copy. Streaming uploads (PUT, UploadPart) last as long as the client sends, and server-side copies and CompleteMultipartUpload as long as the backend works on them, as with S3 itself',
  }),
});

const access = optionalSection({
  team_domain: key(
    'teamDomain',
    text((url) => (TEAM_DOMAIN.test(withoutTrailingSlash(url)) ? undefined : 'must be https://<team>.cloudflareaccess.com (http only for 127.0.0.1 or localhost, in tests)'), withoutTrailingSlash),
    {
      defaultText: 'none',
      meaning: '`https://<team>.cloudflareaccess.com`: the Access issuer whose JWKS verifies `Cf-Access-Jwt-Assertion` (http is accepted only for 127.0.0.1/localhost, for tests)',
    },
  ),
  audience: key('audience', text(), { defaultText: 'required with `team_domain`', meaning: "the Access application's AUD tag" }),
});

function showAccess(value: unknown): string {
  const access = value as { teamDomain: string; audience: string } | undefined;
  return access ? `${access.teamDomain} (aud ${access.audience})` : '';
}

const admin = section({
  // Compared as one value: a change report names `admin.access`, never the audience alone.
  access: key('access', { ...access, show: showAccess }, { reload: 'deploy-only' }),
  token: key('token', optionalText(undefined, atLeast16), {
    reload: 'deploy-only',
    secret: true,
    meaning: 'development only: a bearer token (16+ characters) for the admin API; refused when `S3O_ENVIRONMENT` is `production`',
  }),
});

const telemetry = section({
  metrics: key(
    '',
    section({
      token: key('metricsToken', optionalText(undefined, atLeast16), {
        reload: 'deploy-only',
        secret: true,
        meaning: 'a bearer token (16+ characters; use `${VAR}`) with which a Prometheus scraper may read `/metrics`; Access-authorized callers (and the development admin token) can always read it. Without it, `/metrics` needs the admin door',
      }),
    }),
  ),
});

const replication = section({
  factor: key('factor', count(1, 1), {
    reload: 'reloadable',
    note: '(off)',
    meaning: 'copies of every object, each on a different backend; at most the number of backends',
  }),
  worker_interval: key('workerIntervalMs', duration('5m', '1m'), {
    reload: 'reloadable',
    meaning: 'how often the replicator runs (at least `1m`; durations are `30s`, `5m`, `1h`, `1d` or seconds as a number). It also runs on the first tick after a deploy or after these settings change, and on every tick while it has work left over',
  }),
  batch_size: key('batchSize', count(50, 1, { value: 10_000 }), { reload: 'reloadable', meaning: 'objects made whole per run (1-10000)' }),
  concurrency: key('concurrency', count(2, 1, { value: 2 }), {
    reload: 'reloadable',
    meaning: 'copies made at the same time (1-2: each holds two of the six connections a Worker invocation may have open)',
  }),
  unhealthy_threshold: key('unhealthyThresholdMs', duration('10m', '1s'), {
    reload: 'reloadable',
    meaning: 'a backend whose circuit breaker has been open this long stops counting toward the factor, so its copies are replaced elsewhere; once it is back, the extras are removed',
  }),
});

const rebalance = section({
  enabled: key('enabled', flag(false), {
    reload: 'reloadable',
    meaning: 'move copies between backends on a schedule so their utilization follows `strategy` (`admin rebalance` plans or runs a pass whatever this says). Only backends with a `quota_bytes` take part',
  }),
  strategy: key('strategy', choice(['pack', 'spread'], 'pack'), {
    reload: 'reloadable',
    meaning: '`pack` fills backends in configuration order (copies move from later backends onto earlier ones with room); `spread` evens their utilization',
  }),
  interval: key('intervalMs', duration('6h', '1m'), {
    reload: 'reloadable',
    meaning: 'how often a pass runs (at least `1m`). It also runs on the first tick after these settings change or a deploy, and on every tick while the last pass left planned moves undone',
  }),
  batch_size: key('batchSize', count(100, 1, { value: 10_000 }), { reload: 'reloadable', meaning: 'copies moved per pass at most (1-10000), smallest first' }),
  threshold: key('threshold', fraction(0.1), {
    reload: 'reloadable',
    meaning: 'a pass is skipped while the imbalance is under this (between 0 and 1): for `spread` the utilization spread (highest minus lowest), for `pack` the largest gap between a backend\'s utilization and what packing would give it',
  }),
  concurrency: key('concurrency', count(2, 1, { value: 2 }), {
    reload: 'reloadable',
    meaning: 'copies moved at the same time (1-2: each holds two of the six connections a Worker invocation may have open)',
  }),
});
const integrity = section(
  {
    scrub_interval: key('scrubIntervalMs', duration('0s', '0s'), {
      reload: 'reloadable',
      note: '(off)',
      meaning: 'how often the scrubber checks its next `scrub_batch_size` copies (`0`: never; else at least `1m`). It reads each copy in full (opening sealed ones) and compares it with the object\'s content digest; a copy that does not match is dropped and its bytes deleted, so the replicator makes a good copy from a healthy one (an object\'s only copy is kept and logged). It walks every copy in key order and starts over at the end, so over time every copy is checked. `admin scrub` runs a pass now',
    }),
    scrub_batch_size: key('scrubBatchSize', count(100, 1, { value: 10_000 }), {
      reload: 'reloadable',
      meaning: 'copies a scrub pass reads (1-10000); each is read in full, so a pass reads their total size from the backends (and counts toward their egress)',
    }),
    verify_on_read: key('verifyOnRead', flag(false), {
      reload: 'reloadable',
      meaning: 'hash every GET of a whole object (no `Range`, no `partNumber`) as it streams and compare it with the content digest once the copy was read to its end; on a mismatch the transfer is cut short (the client sees an error, never a clean end) and the copy is dropped like the scrub drops one. A client that stops early gives no verdict. Costs a SHA-256 of every byte served',
    }),
  },
  {
    key: 'scrub_interval',
    problem: (doc) => (doc.scrub_interval > 0 && doc.scrub_interval < 60_000 ? 'must be 0 (off) or at least 1m' : undefined),
  },
);

/** The Cache API takes entries up to 512 MB. */
const CACHE_ENTRY_LIMIT = 512 * 1024 * 1024;
const cache = section(
  {
    enabled: key('enabled', flag(false), {
      reload: 'reloadable',
      meaning: "serve whole-object GETs of small objects from the Cloudflare data center's cache (the Cache API), and ranged GETs from a cached whole object. An entry is keyed by the object's version, so a write, an overwrite, a copy onto the key or a delete is never served stale once it has committed. Objects with sealed (encrypted) copies are never cached: the cache would hold their plaintext. Works on a custom domain only (Cloudflare does not cache for `*.workers.dev`); `admin cache stats` and `admin cache purge` manage it",
    }),
    max_object_size: key('maxObjectSize', size('1MiB', 0), {
      reload: 'reloadable',
      meaning: 'largest object kept in the cache (at most `512MiB`, the Cache API\'s limit); a cached entry is written while the first read streams to its client',
    }),
    ttl: key('ttlMs', duration('5m', '1s'), {
      reload: 'reloadable',
      meaning: 'how long an entry may stay in a data center\'s cache (at least `1s`, at most `30d`); entries of replaced versions are never served again and go when this runs out (or sooner, when the data center needs the room)',
    }),
  },
  { key: 'max_object_size', problem: (doc) => (doc.max_object_size > CACHE_ENTRY_LIMIT ? 'must be at most 512MiB (the Cache API\'s largest entry)' : undefined) },
  { key: 'ttl', problem: (doc) => (doc.ttl > 30 * 86_400_000 ? 'must be at most 30d' : undefined) },
);

const reconcile = section({
  enabled: key('enabled', flag(false), {
    reload: 'reloadable',
    meaning: "compare every backend's listing with the records on a schedule and report what differs (`admin status`, `/metrics`): copies whose bytes are missing, orphans (bytes in the orchestrator's layout no record references) and foreign objects. Each listing page is a billed LIST call",
  }),
  interval: key('intervalMs', duration('24h', '1h'), {
    reload: 'reloadable',
    meaning: 'how often a pass starts (at least `1h`); a pass compares 5 pages of 1000 keys per cron tick until it has walked every backend',
  }),
  delete_orphans: key('deleteOrphans', flag(false), {
    reload: 'reloadable',
    meaning: 'queue orphans older than `orphan_min_age` for deletion (the cleanup queue deletes each only if no record holds it by then); foreign objects are never deleted',
  }),
  orphan_min_age: key('orphanMinAgeMs', duration('24h', '1m'), {
    reload: 'reloadable',
    meaning: "bytes younger than this are never called orphans (at least `1m`): a write has its bytes a moment before its record (a multipart upload's object, dated at the upload's start, is protected by the upload's own record until its completion is recorded)",
  }),
});

const usageFlush = finished(
  section(
  {
    interval: key('intervalMs', duration('30s', '1s'), {
      reload: 'reloadable',
      meaning: "how often a backend's new usage is written (when calls are reported, and at least every minute by the cron)",
    }),
    adaptive_enabled: key('adaptiveEnabled', flag(false), { reload: 'reloadable', meaning: 'write faster while a limit is nearly used up' }),
    adaptive_threshold: key('adaptiveThreshold', fraction(0.8), {
      reload: 'reloadable',
      meaning: 'the fraction of any limit (between 0 and 1) from which writing speeds up',
    }),
    fast_interval: key('fastIntervalMs', duration(undefined, '1s'), {
      reload: 'reloadable',
      defaultText: '`5s`',
      meaning: 'the faster interval (shorter than `interval`)',
    }),
  },
    {
      key: 'fast_interval',
      problem: (doc) => (doc.fast_interval !== undefined && doc.fast_interval >= doc.interval ? 'must be shorter than usage_flush.interval' : undefined),
    },
  ),
  ({ fastIntervalMs, ...rest }) => ({ ...rest, fastIntervalMs: fastIntervalMs ?? 5000 }),
);

const rateLimit = finished(
  section({
    enabled: key('enabled', flag(false), { reload: 'deploy-only', meaning: 'turn it on' }),
    requests_per_sec: key('requestsPerSec', count(100, 1), { reload: 'reloadable', meaning: 'tokens a client IP gains per second' }),
    burst: key('burst', count(undefined, 1), {
      reload: 'reloadable',
      defaultText: '`200` (or `requests_per_sec` if higher)',
      meaning: 'the most requests a client IP can make at once',
    }),
    // Checked even while disabled, so turning it on never meets a bad list.
    trusted_proxies: key(
      'trustedProxies',
      stringList([], (cidr) => parseCidr(cidr) !== undefined, (value) => `must be an IP address or CIDR such as 10.0.0.0/8 or 2001:db8::/32, got ${JSON.stringify(value)}`),
      {
        reload: 'deploy-only',
        meaning: 'IPs or CIDRs (`10.0.0.0/8`, `2001:db8::/32`) in front of the orchestrator. The client IP is `CF-Connecting-IP`; if that is a trusted proxy, it is the rightmost address in `X-Forwarded-For` that is not trusted (addresses further left are whatever the client wrote, so prepending cannot evade the limit). Checked even while disabled',
      },
    ),
    ipv6_prefix_length: key('ipv6PrefixLength', count(64, 1, { value: 128 }), {
      reload: 'deploy-only',
      meaning: 'IPv6 clients are limited per network of this many leading bits (1-128): one subscriber usually holds a whole /64, so per-address buckets would not limit it. IPv4 clients are limited per address',
    }),
  }),
  ({ burst, ...rest }) => ({ ...rest, burst: burst ?? Math.max(200, rest.requestsPerSec) }),
);

const circuitBreaker = section({
  failure_threshold: key('failureThreshold', count(5, 1), {
    reload: 'deploy-only',
    meaning: 'consecutive failed calls (unreachable, 5xx, 429; a 404 or 403 is the backend working) that open the breaker',
  }),
  open_timeout: key('openTimeoutMs', duration('1m', '1s'), {
    reload: 'deploy-only',
    meaning: 'how long an open breaker keeps the backend out (+-10 % jitter); then one caller probes it (a read of a copy there, or the cron\'s probe every minute), and its success closes the breaker while a failure opens it again. A probe that never reports back is given up after 30 s',
  }),
});

const isKey = (value: string) => fromBase64(value)?.byteLength === 32;
const KEY_FORMAT = 'must be base64 of exactly 32 bytes (e.g. from `openssl rand -base64 32`), best written as ${VAR}';
const VAULT_ADDRESS = /^https:\/\/[^\s/]+(:\d+)?\/?$|^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/?$/;
const PATH_SEGMENTS = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

const vault = optionalSection({
  address: key(
    'address',
    text((url) => (VAULT_ADDRESS.test(url) ? undefined : 'must be https://host[:port] (http only for 127.0.0.1 or localhost, in tests)'), withoutTrailingSlash),
    { defaultText: 'none', meaning: "Vault's address, e.g. `https://vault.example.com:8200`" },
  ),
  token: key('token', text(), { secret: true, defaultText: 'required with `address`', meaning: 'a Vault token allowed to use the Transit key (`${VAR}`)' }),
  key_name: key('keyName', text((name) => (PATH_SEGMENTS.test(name) ? undefined : 'must be a Transit key name')), {
    defaultText: 'required with `address`',
    meaning: 'the Transit key that wraps data keys; Vault versions it, so rotating it in Vault needs no change here',
  }),
  mount_path: key('mountPath', optionalText('transit', (path) => (PATH_SEGMENTS.test(path) ? undefined : 'must be a mount path such as transit')), {
    meaning: "the Transit engine's mount path",
  }),
});

function showVault(value: unknown): string {
  const vault = value as { address: string; mountPath: string; keyName: string } | undefined;
  return vault ? `${vault.address} (${vault.mountPath}/${vault.keyName})` : '';
}

const chunkSize = {
  ...size('64KiB', MIN_CHUNK_SIZE),
  schema: v.pipe(
    size('64KiB', MIN_CHUNK_SIZE).schema,
    v.check((n: number) => n <= MAX_CHUNK_SIZE && (n & (n - 1)) === 0, (issue) => `must be a power of two from 4KiB to 1MiB, got ${JSON.stringify(issue.input)}`),
  ),
};

const encryption = section(
  {
    enabled: key('enabled', flag(false), {
      reload: 'deploy-only',
      meaning: 'encrypt new objects (and their multipart parts) with AES-256-GCM under a fresh data key per copy; objects already stored stay as they are until `admin encrypt-existing`. Reads of encrypted objects need their keys whatever this says',
    }),
    master_key: key('masterKey', optionalText(undefined, (text) => (isKey(text) ? undefined : KEY_FORMAT)), {
      reload: 'deploy-only',
      secret: true,
      meaning: 'the primary key (base64 of 32 bytes, as `${VAR}`) that wraps new data keys; its id is a fingerprint, `k-` and 16 hex characters (`admin encryption` lists them)',
    }),
    previous_keys: key('previousKeys', stringList([], isKey, () => KEY_FORMAT), {
      reload: 'deploy-only',
      secret: true,
      meaning: 'earlier keys (base64 of 32 bytes each) that still unwrap the data keys they wrapped; `admin rotate-encryption-key` re-wraps those under the primary, after which they can go',
    }),
    chunk_size: key('chunkSize', chunkSize, {
      reload: 'deploy-only',
      meaning: 'plaintext bytes per sealed chunk of new copies (a power of two, 4KiB-1MiB); each chunk costs 16 bytes. Copies keep the size they were written with, so it can change at any time',
    }),
    vault: key('vault', { ...vault, show: showVault }, { reload: 'deploy-only' }),
  },
  { key: 'vault', problem: (doc) => (doc.vault && doc.master_key ? 'choose one key provider: master_key or vault, not both' : undefined) },
  {
    key: 'enabled',
    problem: (doc) => (doc.enabled && !doc.master_key && !doc.vault ? 'needs a key: master_key (base64 of 32 bytes, e.g. from `openssl rand -base64 32`) or vault' : undefined),
  },
  {
    key: 'previous_keys',
    problem: (doc) => {
      if (doc.previous_keys.length > 0 && !doc.master_key && !doc.vault) return 'need a primary key as well (master_key or vault)';
      const keys = [doc.master_key, ...doc.previous_keys].filter((k) => k !== undefined).map((k) => fromBase64(k)?.join(','));
      return new Set(keys).size < keys.length ? 'a key is listed twice (or is also master_key); each key must appear once' : undefined;
    },
  },
);

/** The whole document; its sections in the order docs/configuration.md describes them. */
export const configDocument = section({
  server: key('server', server),
  admin: key('admin', admin),
  telemetry: key('telemetry', telemetry),
  replication: key('replication', replication),
  rebalance: key('rebalance', rebalance),
  reconcile: key('reconcile', reconcile),
  integrity: key('integrity', integrity),
  cache: key('cache', cache),
  usage_flush: key('usageFlush', usageFlush),
  rate_limit: key('rateLimit', rateLimit),
  circuit_breaker: key('circuitBreaker', circuitBreaker),
  encryption: key('encryption', encryption),
  lifecycle: key('lifecycle', lifecycle),
  cleanup_queue: key('cleanupQueue', cleanupQueue),
  notifications: key('notifications', notifications),
  routing_strategy: key('routingStrategy', choice(['pack', 'spread'], 'pack'), {
    reload: 'deploy-only',
    meaning: '`pack` or `spread`: how a new object\'s backend is chosen (below)',
  }),
  // A bucket added or removed applies at once; a backend added or removed waits for a deploy.
  buckets: key('buckets', buckets, { reload: 'reloadable' }),
  backends: key('backends', backends, { reload: 'deploy-only' }),
});
