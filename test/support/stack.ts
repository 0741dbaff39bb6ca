/**
 * One orchestrator under test: its own Postgres database (on the suite's server), its own backend buckets
 * (radosgw and/or s3rver), and its own `wrangler dev` Worker configured for them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { AwsClient } from 'aws4fetch';
import pg from 'pg';
import { inject } from 'vitest';
import type { Readable } from 'node:stream';
import { parse, stringify } from 'yaml';
import { migrateDatabase } from '../../scripts/lib/migrate.ts';
import { startPgBridge } from '../../scripts/lib/pg-ws-bridge.ts';
import { startS3rverBackend } from '../../scripts/lib/s3rver-backends.ts';
import { type WorkerProcess, startWorker } from '../../scripts/lib/worker-dev.ts';
import { wranglerConfigStore } from '../../scripts/lib/wrangler-kv.ts';
import type { ConfigStore } from '../../src/config/config-store.ts';
import { publishDeployedDocument } from '../../src/config/versions.ts';
import { accountingDrift, backendAccounting } from './accounting.ts';
import { type FaultProxy, startFaultProxy } from './fault-proxy.ts';

export interface BackendSpec {
  name: string;
  kind: 'radosgw' | 's3rver';
  quotaBytes?: number;
  /** Put a test-controlled fault proxy between the Worker and this backend (see `stack.fault(name)`). */
  faultProxy?: boolean;
  /** Monthly usage limits, as YAML would hold them (api_request_limit, egress_byte_limit, ingress_byte_limit). */
  limits?: Record<string, number>;
}

export interface StackOptions {
  name: string;
  backends: BackendSpec[];
  strategy?: 'pack' | 'spread';
  maxObjectSize?: number;
  /** The test bucket's cap on active multipart uploads. */
  maxMultipartUploads?: number;
  /** server.base_domains, for virtual-hosted-style requests. */
  baseDomains?: string[];
  /** The config's admin section, as YAML would hold it. */
  admin?: Record<string, unknown>;
  /** The config's telemetry section, as YAML would hold it. */
  telemetry?: Record<string, unknown>;
  /** Other top-level config sections (replication, circuit_breaker, ...), as YAML would hold them. */
  sections?: Record<string, unknown>;
  /** Extra Worker vars (e.g. S3O_ENVIRONMENT). */
  vars?: Record<string, string>;
  /** Keep the Worker's log lines for `logs()` (otherwise they are dropped unless S3O_TEST_WORKER_LOGS is set). */
  captureLogs?: boolean;
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface TestStack {
  endpoint: string;
  bucket: string;
  /** [0] and [1] both belong to `bucket`; [2] belongs to `otherBucket`. */
  credentials: Credentials[];
  otherBucket: string;
  databaseUrl: string;
  client(credentials?: Credentials, overrides?: Partial<ConstructorParameters<typeof S3Client>[0]>): S3Client;
  /** Physical keys on a backend, read from the backend itself. */
  backendKeys(backend: string): Promise<string[]>;
  /**
   * What replication does, done by hand: copies the object's bytes from backend `from` to backend `to` and records
   * the second copy (row and bytes_used), so tests can have replicas without turning replication on.
   */
  addReplica(key: string, from: string, to: string): Promise<void>;
  /** The fault proxy in front of a backend started with `faultProxy: true`. */
  fault(name: string): FaultProxy;
  /** Direct, signed access to a backend's bucket (`base` is its URL; append the physical key). */
  backend(name: string): { aws: AwsClient; base: string };
  query<T extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  accounting: () => ReturnType<typeof backendAccounting>;
  /** Database connections the Worker has opened so far (through the local stand-in for Neon's proxy). */
  databaseConnections(): number;
  /** Cuts the Worker off from Postgres (as an outage would) until resumeDatabase(). */
  pauseDatabase(): Promise<void>;
  resumeDatabase(): Promise<void>;
  expectExactAccounting(): Promise<void>;
  /** The configuration document the Worker was deployed with (a parsed copy to edit and stringify). */
  deployedConfig(): Record<string, unknown>;
  /** The Worker's local config KV namespace, written from outside the Worker as an operator could by hand. */
  kv: ConfigStore;
  /** Worker log lines parsed as JSON (needs captureLogs). */
  logs(): Record<string, unknown>[];
  /** What `npm run deploy` does, locally: publish the document, then restart the Worker with it (same port). */
  redeploy(configText: string): Promise<void>;
  /** Restarts the Worker with the same deployment (fresh isolates, nothing published). */
  restart(): Promise<void>;
  /** An admin API call with the configured development token. */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

export async function startTestStack(options: StackOptions): Promise<TestStack> {
  const dir = mkdtempSync(join(tmpdir(), `s3o-stack-${options.name}-`));
  const suffix = Math.random().toString(36).slice(2, 8);
  const stops: (() => Promise<void>)[] = [async () => rmSync(dir, { recursive: true, force: true })];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const databaseUrl = await createDatabase(inject('postgresUrl'), `s3o_t_${options.name.replace(/\W/g, '_')}_${suffix}`);
    await migrateDatabase(databaseUrl);
    const pgUrl = new URL(databaseUrl);
    const pgTarget = { host: pgUrl.hostname, port: Number(pgUrl.port) };
    let bridge = await startPgBridge(pgTarget);
    const bridgePort = bridge.port;
    stops.push(() => bridge.close());

    const rgw = inject('radosgw');
    const backendDocs = [];
    const proxies = new Map<string, FaultProxy>();
    const proxied = async (spec: BackendSpec, endpoint: string): Promise<string> => {
      if (!spec.faultProxy) return endpoint;
      const proxy = await startFaultProxy(endpoint);
      stops.push(() => proxy.close());
      proxies.set(spec.name, proxy);
      return proxy.endpoint;
    };
    const backendClients = new Map<string, { aws: AwsClient; base: string }>();
    for (const spec of options.backends) {
      const bucket = `s3o-${options.name}-${spec.name}-${suffix}`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
      if (spec.kind === 'radosgw') {
        const aws = new AwsClient({ accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, service: 's3', region: rgw.region, retries: 0 });
        const created = await aws.fetch(`${rgw.endpoint}/${bucket}`, { method: 'PUT' });
        if (!created.ok) throw new Error(`could not create radosgw bucket ${bucket}: ${created.status} ${await created.text()}`);
        backendClients.set(spec.name, { aws, base: `${rgw.endpoint}/${bucket}` });
        backendDocs.push({
          name: spec.name,
          endpoint: await proxied(spec, rgw.endpoint),
          bucket,
          region: rgw.region,
          access_key_id: '${RGW_ACCESS_KEY}',
          secret_access_key: '${RGW_SECRET_KEY}',
          force_path_style: true,
          quota_bytes: spec.quotaBytes ?? 0,
          ...spec.limits,
        });
      } else {
        const backend = await startS3rverBackend(spec.name, join(dir, 's3rver'), bucket);
        stops.push(backend.stop);
        const aws = new AwsClient({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', service: 's3', region: 'us-east-1', retries: 0 });
        backendClients.set(spec.name, { aws, base: `${backend.endpoint}/${bucket}` });
        backendDocs.push({
          name: spec.name,
          endpoint: await proxied(spec, backend.endpoint),
          bucket,
          access_key_id: 'S3RVER',
          secret_access_key: 'S3RVER-secret',
          force_path_style: true,
          quota_bytes: spec.quotaBytes ?? 0,
          ...spec.limits,
        });
      }
    }

    const bucket = 'itest';
    const otherBucket = 'other-bucket';
    const credentials: Credentials[] = [
      { accessKeyId: 'itest-writer', secretAccessKey: 'itest-writer-secret' },
      { accessKeyId: 'itest-reader', secretAccessKey: 'itest-reader-secret' },
      { accessKeyId: 'other-key', secretAccessKey: 'other-key-secret' },
    ];
    const config = {
      server: {
        log_level: 'warn',
        ...(options.maxObjectSize ? { max_object_size: options.maxObjectSize } : {}),
        ...(options.baseDomains ? { base_domains: options.baseDomains } : {}),
      },
      ...(options.admin ? { admin: options.admin } : {}),
      ...(options.telemetry ? { telemetry: options.telemetry } : {}),
      ...options.sections,
      routing_strategy: options.strategy ?? 'pack',
      buckets: [
        {
          name: bucket,
          credentials: credentials.slice(0, 2).map((c) => ({ access_key_id: c.accessKeyId, secret_access_key: c.secretAccessKey })),
          ...(options.maxMultipartUploads ? { max_multipart_uploads: options.maxMultipartUploads } : {}),
        },
        { name: otherBucket, credentials: [{ access_key_id: credentials[2]!.accessKeyId, secret_access_key: credentials[2]!.secretAccessKey }] },
      ],
      backends: backendDocs,
    };
    const persistDir = join(dir, 'wrangler');
    const logLines: Record<string, unknown>[] = [];
    const launch = async (configText: string, port?: number): Promise<WorkerProcess> => {
      const started = await startWorker({
        ...(port ? { port } : {}),
        persistDir,
        ...(options.captureLogs ? { logLevel: 'log' as const } : {}),
        output: options.captureLogs ? 'pipe' : process.env.S3O_TEST_WORKER_LOGS ? 'inherit' : 'ignore',
        vars: {
          S3O_CONFIG: configText,
          RGW_ACCESS_KEY: rgw.accessKeyId,
          RGW_SECRET_KEY: rgw.secretAccessKey,
          DATABASE_URL: databaseUrl,
          DATABASE_LOCAL_PROXY: `127.0.0.1:${bridgePort}`,
          ...options.vars,
        },
      });
      if (options.captureLogs) collectJsonLines([started.child.stdout, started.child.stderr], logLines);
      return started;
    };
    let deployedText = stringify(config);
    let worker = await launch(deployedText);
    stops.push(() => worker.stop());
    const kv = wranglerConfigStore({ kind: 'local', persistDir });
    const adminToken = typeof options.admin?.token === 'string' ? options.admin.token : undefined;

    const stack: TestStack = {
      endpoint: worker.url,
      bucket,
      otherBucket,
      credentials,
      databaseUrl,
      client: (creds = credentials[0]!, overrides = {}) =>
        new S3Client({ endpoint: worker.url, region: 'us-east-1', forcePathStyle: true, credentials: creds, ...overrides }),
      async addReplica(key, from, to) {
        const [row] = await stack.query<{ physical_key: string; stored_size: string }>(
          'select physical_key, stored_size from object_locations where bucket = $1 and key = $2 and backend_name = $3',
          [bucket, key, from],
        );
        if (!row) throw new Error(`no copy of ${key} on ${from}`);
        const source = stack.backend(from);
        const target = stack.backend(to);
        const body = await (await source.aws.fetch(`${source.base}/${row.physical_key}`)).arrayBuffer();
        const put = await target.aws.fetch(`${target.base}/${row.physical_key}`, { method: 'PUT', body });
        if (!put.ok) throw new Error(`could not copy ${key} to ${to}: ${put.status}`);
        await stack.query('insert into object_locations (bucket, key, backend_name, physical_key, stored_size) values ($1, $2, $3, $4, $5)', [
          bucket,
          key,
          to,
          row.physical_key,
          row.stored_size,
        ]);
        await stack.query('update backend_quotas set bytes_used = bytes_used + $2 where backend_name = $1', [to, row.stored_size]);
      },
      fault(name) {
        const proxy = proxies.get(name);
        if (!proxy) throw new Error(`backend ${name} has no fault proxy`);
        return proxy;
      },
      backend(name) {
        const backend = backendClients.get(name);
        if (!backend) throw new Error(`no backend ${name}`);
        return backend;
      },
      async backendKeys(name) {
        const backend = backendClients.get(name);
        if (!backend) throw new Error(`no backend ${name}`);
        const keys: string[] = [];
        let token = '';
        do {
          const response = await backend.aws.fetch(`${backend.base}?list-type=2&max-keys=1000${token ? `&continuation-token=${encodeURIComponent(token)}` : ''}`);
          const xml = await response.text();
          keys.push(...[...xml.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => decodeXml(m[1] ?? '')));
          token = decodeXml(/<NextContinuationToken>([^<]*)</.exec(xml)?.[1] ?? '');
        } while (token);
        return keys;
      },
      async query(text, values) {
        const client = new pg.Client({ connectionString: databaseUrl });
        await client.connect();
        try {
          return (await client.query(text, values)).rows;
        } finally {
          await client.end();
        }
      },
      accounting: () => backendAccounting(databaseUrl),
      databaseConnections: () => bridge.connections(),
      pauseDatabase: () => bridge.close(),
      async resumeDatabase() {
        bridge = await startPgBridge(pgTarget, bridgePort);
      },
      async expectExactAccounting() {
        const drift = await accountingDrift(databaseUrl);
        if (drift.length > 0) throw new Error(`accounting drift:\n${drift.join('\n')}`);
      },
      deployedConfig: () => parse(deployedText) as Record<string, unknown>,
      kv,
      logs: () => [...logLines],
      async redeploy(configText) {
        await publishDeployedDocument(kv, configText);
        await worker.stop();
        worker = await launch(configText, worker.port);
        deployedText = configText;
      },
      async restart() {
        await worker.stop();
        worker = await launch(deployedText, worker.port);
      },
      async admin(method, path, body) {
        const response = await fetch(`${worker.url}${path}`, {
          method,
          headers: { ...(adminToken ? { authorization: `Bearer ${adminToken}` } : {}), ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      },
      stop,
    };
    return stack;
  } catch (err) {
    await stop();
    throw err;
  }
}

async function createDatabase(adminUrl: string, name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Keeps every line that is a JSON object (the Worker's structured logs); wrangler's own chatter is skipped. */
function collectJsonLines(streams: (Readable | null)[], into: Record<string, unknown>[]): void {
  for (const stream of streams) {
    let pending = '';
    stream?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const raw of lines) {
        // wrangler prints console.warn/error with colour codes around the text.
        const line = raw.replace(/\x1b\[[0-9;]*m/g, '');
        const start = line.indexOf('{');
        if (start < 0) continue;
        try {
          const value: unknown = JSON.parse(line.slice(start));
          if (value && typeof value === 'object') into.push(value as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
  }
}

function decodeXml(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}
