/**
 * The benchmark's stack: PostgreSQL 15, Ceph radosgw and the Worker under `wrangler dev`, configured with ONE
 * virtual bucket (one credential) over ONE radosgw backend, so that "direct" and "through the orchestrator"
 * reach the same radosgw; plus the bare re-signing proxy (scripts/bench-proxy) under a second `wrangler dev`,
 * in front of the same radosgw. Everything lives under one folder; stop() ends every process and removes it.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AwsClient } from 'aws4fetch';
import { stringify } from 'yaml';
import { descendants, killAll, killIfStillThere, workerdPids } from './bench-proc.ts';
import { migrateDatabase } from './migrate.ts';
import { startPgBridge, type Bridge } from './pg-ws-bridge.ts';
import { startPostgres, type PostgresServer } from './postgres.ts';
import { startRadosgw, type RadosgwServer } from './radosgw.ts';
import { ensureDebianPackages, TEST_SERVICES_PACKAGES } from './system-deps.ts';
import type { WorkerProcess } from './worker-dev.ts';

/**
 * Benchmarks run their Workers without DevTools' inspector, as deployed (worker-dev-headless.ts); BENCH_INSPECTOR=1
 * keeps it, for attaching a CPU profiler (it then also relays every console line of the Worker).
 */
export const BENCH_INSPECTOR = process.env.BENCH_INSPECTOR === '1';

/** The orchestrator Worker's vars in a benchmark: its config, radosgw's keys, Postgres through the bridge. */
export function benchWorkerVars(config: unknown, rgw: RadosgwServer, postgres: PostgresServer, bridge: Bridge): Record<string, string> {
  return {
    S3O_CONFIG: stringify(config),
    RGW_ACCESS_KEY: rgw.accessKeyId,
    RGW_SECRET_KEY: rgw.secretAccessKey,
    DATABASE_URL: postgres.url,
    DATABASE_LOCAL_PROXY: `127.0.0.1:${bridge.port}`,
  };
}

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface BenchStack {
  /** The orchestrator (wrangler dev). */
  worker: WorkerProcess;
  /** The bare proxy (a second wrangler dev): `/<bucket>/<key>` re-signed one to one onto radosgw, no auth. */
  proxy: WorkerProcess;
  virtualBucket: string;
  virtualCredentials: Credentials;
  radosgw: RadosgwServer;
  /** The orchestrator's database (a superuser's URL). */
  databaseUrl: string;
  /** A radosgw bucket of its own for the direct measurements (the backend's bucket is the orchestrator's). */
  directBucket: string;
  /** The orchestrator's backend bucket on radosgw (only for checking what is left there). */
  backendBucket: string;
  /** The orchestrator's workerd processes under wrangler now (it replaces them when it reloads the Worker). */
  workerdPids(): number[];
  /** The same for the bare proxy. */
  proxyWorkerdPids(): number[];
  /** Waits until both Workers answer /health again (after a reload). */
  waitHealthy(timeoutMs: number): Promise<void>;
  /** Runs radosgw's garbage collector now, so deleted objects' space really comes back (memstore is capped). */
  collectGarbage(timeoutMs: number): Promise<void>;
  /** The orchestrator's output (stdout and stderr), as lines. */
  workerLog(): string[];
  /** The bare proxy's output, as lines. */
  proxyLog(): string[];
  alive(): { worker: boolean; proxy: boolean; radosgw: boolean };
  stop(): Promise<void>;
}

const VIRTUAL_BUCKET = 'bench';
const CREDENTIALS: Credentials = { accessKeyId: 'bench-key', secretAccessKey: 'bench-secret-0123456789abcdef' };
const BACKEND_BUCKET = 'bench-backend';
const DIRECT_BUCKET = 'bench-direct';
const LOG_LINES_KEPT = 2000;

export async function startBenchStack(
  dir: string,
  progress: (message: string) => void,
): Promise<BenchStack> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await s().catch((err: unknown) => progress(`stop failed: ${String(err)}`));
    stops.length = 0;
  };
  try {
    await ensureDebianPackages(TEST_SERVICES_PACKAGES);
    progress('starting PostgreSQL 15 and radosgw (in parallel)');
    const [pgOutcome, rgwOutcome] = await Promise.allSettled([
      startPostgres({ dir: join(dir, 'postgres') }),
      startRadosgw({ dir: join(dir, 'radosgw') }),
    ]);
    let postgres: PostgresServer | undefined;
    let radosgw: RadosgwServer | undefined;
    if (pgOutcome.status === 'fulfilled') {
      postgres = pgOutcome.value;
      stops.push(postgres.stop);
    }
    if (rgwOutcome.status === 'fulfilled') {
      radosgw = rgwOutcome.value;
      stops.push(radosgw.stop);
    }
    if (pgOutcome.status === 'rejected') throw pgOutcome.reason;
    if (rgwOutcome.status === 'rejected') throw rgwOutcome.reason;
    if (postgres === undefined || radosgw === undefined) throw new Error('unreachable');
    const rgw = radosgw;

    await migrateDatabase(postgres.url);
    const bridge: Bridge = await startPgBridge({ host: '127.0.0.1', port: postgres.port });
    stops.push(bridge.close);

    const aws = new AwsClient({
      accessKeyId: rgw.accessKeyId,
      secretAccessKey: rgw.secretAccessKey,
      service: 's3',
      region: rgw.region,
      retries: 0,
    });
    for (const bucket of [BACKEND_BUCKET, DIRECT_BUCKET]) {
      const created = await aws.fetch(`${rgw.endpoint}/${bucket}`, { method: 'PUT' });
      if (!created.ok) throw new Error(`could not create radosgw bucket ${bucket}: ${created.status} ${await created.text()}`);
      await created.body?.cancel();
    }

    const config = {
      server: { log_level: 'warn', max_object_size: '2GiB' },
      routing_strategy: 'pack',
      buckets: [
        {
          name: VIRTUAL_BUCKET,
          credentials: [{ access_key_id: CREDENTIALS.accessKeyId, secret_access_key: CREDENTIALS.secretAccessKey }],
        },
      ],
      backends: [
        {
          name: 'rgw',
          endpoint: rgw.endpoint,
          bucket: BACKEND_BUCKET,
          region: rgw.region,
          access_key_id: '${RGW_ACCESS_KEY}',
          secret_access_key: '${RGW_SECRET_KEY}',
          force_path_style: true,
          quota_bytes: 0,
        },
      ],
    };
    progress('starting the Worker and the bare proxy (two wrangler dev, in parallel) from a snapshot of the working tree');
    const { startWorker } = await snapshotWorker(join(dir, 'worker-src'));
    const [workerOutcome, proxyOutcome] = await Promise.allSettled([
      startWorker({
        persistDir: join(dir, 'wrangler'),
        output: 'pipe',
        inspector: BENCH_INSPECTOR,
        vars: benchWorkerVars(config, rgw, postgres, bridge),
      }),
      startWorker({
        configPath: PROXY_CONFIG,
        persistDir: join(dir, 'wrangler-proxy'),
        output: 'pipe',
        inspector: BENCH_INSPECTOR,
        runCronOnStart: false,
        vars: {
          BACKEND_ENDPOINT: rgw.endpoint,
          BACKEND_REGION: rgw.region,
          BACKEND_ACCESS_KEY: rgw.accessKeyId,
          BACKEND_SECRET_KEY: rgw.secretAccessKey,
        },
      }),
    ]);
    const workerLog = workerOutcome.status === 'fulfilled' ? manage(workerOutcome.value, stops) : undefined;
    const proxyLog = proxyOutcome.status === 'fulfilled' ? manage(proxyOutcome.value, stops) : undefined;
    if (workerOutcome.status === 'rejected') throw workerOutcome.reason;
    if (proxyOutcome.status === 'rejected') throw new Error(`bare proxy: ${String(proxyOutcome.reason)}`);
    if (workerLog === undefined || proxyLog === undefined) throw new Error('unreachable');
    const worker = workerOutcome.value;
    const proxy = proxyOutcome.value;
    const running = (w: WorkerProcess): boolean => w.child.exitCode === null && w.child.signalCode === null;

    const conf = join(dir, 'radosgw', 'ceph.conf');
    return {
      worker,
      proxy,
      virtualBucket: VIRTUAL_BUCKET,
      virtualCredentials: CREDENTIALS,
      radosgw: rgw,
      databaseUrl: postgres.url,
      directBucket: DIRECT_BUCKET,
      backendBucket: BACKEND_BUCKET,
      workerdPids: () => workerdPids(worker.pid),
      proxyWorkerdPids: () => workerdPids(proxy.pid),
      waitHealthy: async (timeoutMs) => {
        const deadline = Date.now() + timeoutMs;
        for (const [name, w] of [['the Worker', worker], ['the bare proxy', proxy]] as const) {
          for (;;) {
            try {
              const response = await fetch(`${w.url}/health`, { signal: AbortSignal.timeout(5000) });
              await response.body?.cancel();
              if (response.status === 200) break;
            } catch {
              // reloading
            }
            if (Date.now() > deadline) throw new Error(`${name} did not answer /health within ${timeoutMs} ms`);
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
        }
      },
      collectGarbage: (timeoutMs) => runQuietly('radosgw-admin', ['-c', conf, 'gc', 'process', '--include-all'], timeoutMs),
      workerLog,
      proxyLog,
      alive: () => ({ worker: running(worker), proxy: running(proxy), radosgw: rgw.alive() }),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The bare proxy's wrangler configuration, relative to the (snapshot's) project root. */
const PROXY_CONFIG = 'scripts/bench-proxy/wrangler.toml';

/**
 * Makes sure `worker` (wrangler and everything under it) ends with this process or at stop(), and collects its
 * output; returns a reader of that output, as lines.
 */
function manage(worker: WorkerProcess, stops: (() => Promise<void>)[]): () => string[] {
  // If this process dies before stop(), take wrangler and everything under it along (its bin script runs the
  // real CLI as a child, which runs workerd; none has an exit hook of ours). Innermost first.
  const onExit = (): void => killAll([...descendants(worker.pid).map((p) => p.pid).reverse(), worker.pid]);
  process.on('exit', onExit);
  stops.push(async () => {
    process.off('exit', onExit);
    const under = descendants(worker.pid);
    await worker.stop();
    // wrangler normally ends its own children; make sure nothing it started outlives it.
    killIfStillThere(under);
  });

  const log: string[] = [];
  let partial = '';
  const collect = (chunk: Buffer): void => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    log.push(...lines);
    if (log.length > LOG_LINES_KEPT) log.splice(0, log.length - LOG_LINES_KEPT);
  };
  worker.child.stdout?.on('data', collect);
  worker.child.stderr?.on('data', collect);
  return () => (partial ? [...log, partial] : [...log]);
}

/**
 * Copies the Worker's sources and the bare proxy's (and the wrangler launcher itself, whose project root is its
 * own location) to `into`, and loads that launcher. wrangler dev reloads the Worker whenever a source file changes, cutting
 * every request in flight ("Your worker restarted mid-request"); a snapshot keeps edits made during the run
 * from disturbing it, and measures the code as it was when the run began.
 */
async function snapshotWorker(into: string): Promise<typeof import('./worker-dev.ts')> {
  for (const path of ['src', 'workers', 'wrangler.toml', 'package.json', 'tsconfig.json', 'tsconfig.base.json']) {
    cpSync(join(ROOT, path), join(into, path), { recursive: true });
  }
  cpSync(join(ROOT, 'scripts', 'bench-proxy'), join(into, 'scripts', 'bench-proxy'), { recursive: true });
  // wrangler.toml's [build] command bundles the dashboard from src/ui before the Worker starts.
  cpSync(join(ROOT, 'scripts', 'build-ui.mjs'), join(into, 'scripts', 'build-ui.mjs'));
  mkdirSync(join(into, 'scripts', 'lib'), { recursive: true });
  for (const file of ['worker-dev.ts', 'worker-dev-headless.ts', 'ports.ts']) cpSync(join(ROOT, 'scripts', 'lib', file), join(into, 'scripts', 'lib', file));
  symlinkSync(join(ROOT, 'node_modules'), join(into, 'node_modules'), 'dir');
  return (await import(pathToFileURL(join(into, 'scripts', 'lib', 'worker-dev.ts')).href)) as typeof import('./worker-dev.ts');
}

function runQuietly(bin: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${bin} ${args.join(' ')} ${signal ? `killed (${signal})` : `exited ${code}`}: ${output.trim()}`));
    });
  });
}
