/**
 * What the stand-alone benchmark scripts share: their services (PostgreSQL 15, radosgw with buckets, the database
 * bridge), a bounded worker pool, and running `main` with cleanup either way.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';
import { migrateDatabase } from './migrate.ts';
import { startPgBridge, type Bridge } from './pg-ws-bridge.ts';
import { startPostgres, type PostgresServer } from './postgres.ts';
import { startRadosgw, type RadosgwServer } from './radosgw.ts';
import { ensureDebianPackages, TEST_SERVICES_PACKAGES } from './system-deps.ts';

/** Runs `work` over `items`, `concurrency` at a time. */
export async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** Every key in a radosgw bucket (ListObjectsV2 pages). */
export async function listBucketKeys(aws: AwsClient, endpoint: string, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token = '';
  do {
    const listed = await (await aws.fetch(`${endpoint}/${bucket}?list-type=2&max-keys=1000${token ? `&continuation-token=${encodeURIComponent(token)}` : ''}`)).text();
    keys.push(...[...listed.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => m[1] ?? ''));
    token = /<NextContinuationToken>([^<]*)</.exec(listed)?.[1] ?? '';
  } while (token);
  return keys;
}

/**
 * The yardstick for moving copies: a plain streaming copy of `keys` from one bucket to another (GET piped into
 * PUT, `concurrency` at a time), nothing recorded. Answers the seconds it took.
 */
export async function plainCopy(aws: AwsClient, endpoint: string, from: string, to: string, keys: readonly string[], concurrency: number): Promise<number> {
  const start = performance.now();
  await pool(keys, concurrency, async (key) => {
    const source = await aws.fetch(`${endpoint}/${from}/${key}`);
    const length = source.headers.get('content-length') ?? '0';
    const put = await aws.fetch(`${endpoint}/${to}/${key}`, {
      method: 'PUT',
      body: source.body,
      headers: { 'content-length': length, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      duplex: 'half',
    } as RequestInit);
    if (!put.ok) throw new Error(`plain copy PUT ${key}: ${put.status}`);
    await put.body?.cancel();
  });
  return (performance.now() - start) / 1000;
}

/** One line of a throughput table: seconds, objects/s and MB/s (MB = 10^6 bytes). */
export function throughputRow(label: string, seconds: number, objects: number, bytes: number): string {
  return `${label.padEnd(34)} ${seconds.toFixed(2).padStart(8)} s ${(objects / seconds).toFixed(1).padStart(9)} obj/s ${(bytes / 1e6 / seconds).toFixed(1).padStart(8)} MB/s`;
}

/** Runs `main`, then stops what it started (last first) and removes `dir`; a failure is printed and exits 1. */
export function runBench(name: string, dir: string, stops: (() => Promise<void>)[], main: () => Promise<void>): void {
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  main()
    .then(stopAll)
    .catch(async (err: unknown) => {
      console.error(`${name} failed: ${err instanceof Error ? err.message : String(err)}`);
      await stopAll();
      process.exit(1);
    });
}

export interface BenchServices {
  postgres: PostgresServer;
  rgw: RadosgwServer;
  bridge: Bridge;
  /** Signed access to radosgw, as the benchmark's own client. */
  aws: AwsClient;
}

/** PostgreSQL 15 (migrated) and radosgw with `buckets` created, under `dir`; their stops go onto `stops`. */
export async function startBenchServices(dir: string, stops: (() => Promise<void>)[], buckets: readonly string[], log: (message: string) => void): Promise<BenchServices> {
  await ensureDebianPackages(TEST_SERVICES_PACKAGES);
  log('starting PostgreSQL 15 and radosgw');
  const [postgres, rgw] = await Promise.all([startPostgres({ dir: join(dir, 'postgres') }), startRadosgw({ dir: join(dir, 'radosgw') })]);
  stops.push(postgres.stop, rgw.stop);
  await migrateDatabase(postgres.url);
  const bridge = await startPgBridge({ host: '127.0.0.1', port: postgres.port });
  stops.push(bridge.close);
  const aws = new AwsClient({ accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey, service: 's3', region: rgw.region, retries: 0 });
  for (const bucket of buckets) {
    const created = await aws.fetch(`${rgw.endpoint}/${bucket}`, { method: 'PUT' });
    if (!created.ok) throw new Error(`could not create bucket ${bucket}: ${created.status}`);
  }
  return { postgres, rgw, bridge, aws };
}
