/**
 * What the benchmarks of moving copies (drain, rebalance) share: PostgreSQL, radosgw with buckets for backends a
 * and b and for the plain copy, the Worker in front of a and b (routing pack, so everything lands on a), and the
 * same objects written through it: 400 of 64 KiB and 4 of 16 MiB.
 */
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { AwsClient } from 'aws4fetch';
import { BENCH_INSPECTOR, benchWorkerVars } from './bench-stack.ts';
import { cpuSpentMs, processes, stackGroups } from './bench-proc.ts';
import { pool, startBenchServices } from './bench-run.ts';
import { table } from './bench-targets.ts';
import type { RadosgwServer } from './radosgw.ts';
import { startWorker } from './worker-dev.ts';

export const SMALL = { count: 400, size: 64 * 1024 };
export const LARGE = { count: 4, size: 16 * 1024 * 1024 };

export interface MoveBench {
  workerUrl: string;
  rgw: RadosgwServer;
  aws: AwsClient;
  objects: number;
  totalBytes: number;
  /** An admin API call with the bench's development token. */
  admin(method: string, path: string): Promise<Response>;
  /** Runs `work` and answers the machine's CPU (ms) meanwhile, by part of the stack. */
  cpuDuring<T>(work: () => Promise<T>): Promise<{ result: T; cpu: Map<string, number> }>;
}

export async function startMoveBench(options: {
  /** Names the buckets and the token (`<name>-a`, `<name>-b`, `plain-copy`). */
  name: string;
  dir: string;
  stops: (() => Promise<void>)[];
  log: (message: string) => void;
  /** More of each backend's YAML (e.g. quota_bytes). */
  backend?: Record<string, unknown>;
  /** More top-level sections (e.g. rebalance). */
  sections?: Record<string, unknown>;
}): Promise<MoveBench> {
  const { name, dir, stops, log } = options;
  const token = `bench-${name}-admin-token-0123`;
  const credentials = { accessKeyId: `bench-${name}`, secretAccessKey: `bench-${name}-secret` };
  const { postgres, rgw, bridge, aws } = await startBenchServices(dir, stops, [`${name}-a`, `${name}-b`, 'plain-copy'], log);
  const backend = (backendName: string, bucket: string) => ({
    name: backendName,
    endpoint: rgw.endpoint,
    bucket,
    region: rgw.region,
    access_key_id: '${RGW_ACCESS_KEY}',
    secret_access_key: '${RGW_SECRET_KEY}',
    force_path_style: true,
    ...options.backend,
  });
  const config = {
    server: { log_level: 'warn' },
    admin: { token },
    routing_strategy: 'pack',
    ...options.sections,
    buckets: [{ name: 'bench', credentials: [{ access_key_id: credentials.accessKeyId, secret_access_key: credentials.secretAccessKey }] }],
    backends: [backend('a', `${name}-a`), backend('b', `${name}-b`)],
  };
  log('starting the Worker (wrangler dev)');
  const worker = await startWorker({ persistDir: join(dir, 'wrangler'), inspector: BENCH_INSPECTOR, output: process.env.BENCH_WORKER_OUTPUT === '1' ? 'inherit' : 'ignore', vars: benchWorkerVars(config, rgw, postgres, bridge) });
  stops.push(worker.stop);

  const s3 = new S3Client({ endpoint: worker.url, region: 'us-east-1', forcePathStyle: true, credentials });
  const keys = [
    ...Array.from({ length: SMALL.count }, (_, i) => ({ key: `small/${i}`, size: SMALL.size })),
    ...Array.from({ length: LARGE.count }, (_, i) => ({ key: `large/${i}`, size: LARGE.size })),
  ];
  const totalBytes = keys.reduce((sum, k) => sum + k.size, 0);
  log(`writing ${keys.length} objects (${(totalBytes / 1e6).toFixed(1)} MB) through the orchestrator onto backend a`);
  await pool(keys, 8, async ({ key, size }) => {
    await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: Buffer.alloc(size, key.length) }));
  });
  const admin = (method: string, path: string) => fetch(`${worker.url}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  const cpuDuring = async <T>(work: () => Promise<T>) => {
    const groupOf = stackGroups([{ name: 'orchestrator', pid: worker.pid }], 'bench process: plain copy client, local Neon endpoint');
    const before = processes();
    const result = await work();
    return { result, cpu: cpuSpentMs(before, processes(), groupOf) };
  };
  return { workerUrl: worker.url, rgw, aws, objects: keys.length, totalBytes, admin, cpuDuring };
}

/**
 * The machine's CPU per object moved, by part of the stack, for the plain copy and the orchestrator's moves. Every
 * part shares this machine's cores, so what the moves do beyond copying (source deletes, the database) slows the
 * copies too; in production the backends and the database run elsewhere.
 */
export function printMoveCpu(labels: [string, string], spent: [Map<string, number>, Map<string, number>], objects: [number, number]): void {
  const perObject = (i: 0 | 1, group?: string) => {
    const ms = group === undefined ? [...spent[i].values()].reduce((a, b) => a + b, 0) : (spent[i].get(group) ?? 0);
    return ms / objects[i];
  };
  const groups = [...new Set([...spent[0].keys(), ...spent[1].keys()])].sort((a, b) => perObject(1, b) - perObject(1, a));
  console.log('\nMachine CPU per object moved (ms, every process):');
  console.log(
    table(
      ['Process', ...labels],
      [...groups.map((g) => [g, perObject(0, g).toFixed(2), perObject(1, g).toFixed(2)]), ['total', perObject(0).toFixed(2), perObject(1).toFixed(2)]],
      [false, true, true],
    ),
  );
}

/** The mix the objects are, for the report's heading. */
export const OBJECT_MIX = `${SMALL.count} x ${SMALL.size / 1024} KiB, ${LARGE.count} x ${LARGE.size / 1024 ** 2} MiB`;
