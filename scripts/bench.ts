/**
 * `npm run bench`: throughput and memory of the orchestrator against going to its backend directly, and against
 * a bare re-signing proxy Worker (the toolchain's own ceiling for any proxy).
 *
 * Starts its own stack (PostgreSQL 15, Ceph radosgw, the Worker under `wrangler dev`) with one virtual bucket over
 * one radosgw backend, plus the bare proxy (scripts/bench-proxy) under a second `wrangler dev` in front of the
 * same radosgw, then measures with @aws-sdk/client-s3, direct to radosgw, through the bare proxy and through the
 * orchestrator:
 * PUT/GET throughput for 1 MiB and 256 MiB objects, PUT/GET operations per second for 4 KiB objects, 1 GiB
 * streamed transfers, a 1 GiB multipart upload (@aws-sdk/lib-storage) and its download, and workerd's resident
 * memory during the 1 GiB transfers through the orchestrator; and for small objects (scripts/lib/bench-small.ts) a 1 KiB
 * open loop (PUT+GET pairs started at a fixed rate), a closed loop of 32 clients (1-64 KiB) and the database round
 * trips of each S3 operation. `--only small` or `--only large` runs one half.
 * Targets are printed as PASS/MISS; it exits 0 whether or not they are met (it is a measurement, not a test),
 * and 1 only when something could not be measured (an error, a timeout, a wrong byte).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { DISTINCT_BLOCKS_SHIFT, drainAndCheck, GiB, KiB, MiB, objectBuffer, objectStream } from './lib/bench-data.ts';
import { POSTGRES_GROUP, commandLine, cpuSpentMs, processes, rssBytes, sampleRss, stackGroups, totalRss, wranglerGroup, type ProcEntry, type RssSample } from './lib/bench-proc.ts';
import { startBenchStack, type BenchStack, type Credentials } from './lib/bench-stack.ts';
import { closedLoop, databaseRoundTrips, openLoop, type LoopResult, type RoundTrips } from './lib/bench-small.ts';
import { recordTargets, table, type TargetRow } from './lib/bench-targets.ts';

const { values: options } = parseArgs({ options: { only: { type: 'string' } } });
if (options.only !== undefined && options.only !== 'small' && options.only !== 'large') {
  console.error(`bench: --only takes small or large, not ${JSON.stringify(options.only)}`);
  process.exit(2);
}
const runSmall = options.only !== 'large';
const runLarge = options.only !== 'small';

const RUN_STARTED = performance.now();
/** The whole run, stack included, is cut off after this (a normal run takes 1-2 minutes). */
const RUN_TIMEOUT_MS = 10 * 60_000;
const MB = 1_000_000;

const SMALL = { size: 4 * KiB, count: 200, concurrency: 8 };
const MEDIUM = { size: MiB, count: 32, concurrency: 1 };
const LARGE = { size: 256 * MiB, count: 3, concurrency: 1 };
const HUGE = { size: GiB, count: 1, concurrency: 1 };
/** lib-storage's Upload: it cuts the stream into partSize Buffers and keeps queueSize parts in flight. */
const MULTIPART = { size: GiB, partSize: 64 * MiB, queueSize: 4 };
/** Issue 18: 1 KiB pairs at 50/s for 15 s; 32 clients x 25 pairs of 1-64 KiB. */
const OPEN_LOOP = { size: KiB, rate: 50, seconds: 15 };
const CLOSED_LOOP = { clients: 32, pairsEach: 25 };
/** The orchestrator's p99 at most this times the bare proxy's; its closed-loop rate at least this fraction of it. */
const SMALL_P99_TARGET = 2;
const CLOSED_LOOP_RATIO_TARGET = 0.7;
/** Issue 18's large-object targets, against the bare proxy: GETs, and PUTs whose payload is not signed. */
const LARGE_GET_TARGET = 0.9;
const LARGE_UNSIGNED_PUT_TARGET = 0.8;
const RSS_GROWTH_TARGET = 64 * MB;

// Ctrl-C must still run the services' exit handlers.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

const elapsed = (): string => `${((performance.now() - RUN_STARTED) / 1000).toFixed(1)} s`;
const progress = (message: string): void => console.log(`[bench ${elapsed().padStart(7)}] ${message}`);

// ---------------------------------------------------------------------------------------------- measurements

type Path = 'direct' | 'proxy' | 'orchestrator';

const PATH_NAMES: Record<Path, string> = { direct: 'direct', proxy: 'bare proxy', orchestrator: 'orchestrator' };

interface Target {
  client: S3Client;
  bucket: string;
  path: Path;
  /** What the client was made from, so that a phase can make one of its own. */
  endpoint: string;
  credentials: Credentials;
}

interface Spec {
  size: number;
  count: number;
  concurrency: number;
}

interface Timing {
  seconds: number;
  bytes: number;
  ops: number;
  latenciesMs: number[];
}

interface ObjectRef {
  key: string;
  offset: number;
}

/**
 * `when-required`: no client-side CRC32 (the 2 cores are better spent on the servers); Buffer payloads are still
 * SHA-256 signed, and a stream with a known length goes as a plain UNSIGNED-PAYLOAD body (not aws-chunked).
 * `sdk-defaults`: the SDK's own checksum behaviour (WHEN_SUPPORTED: CRC32 on every upload, response checksums
 * validated when present), as an application using the SDK out of the box sends.
 */
function makeClient(
  endpoint: string,
  credentials: Credentials,
  checksums: 'when-required' | 'sdk-defaults' = 'when-required',
  maxSockets = 32,
): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    // Every failure is reported, never hidden by a retry.
    maxAttempts: 1,
    ...(checksums === 'when-required'
      ? { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' }
      : {}),
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 120_000, httpAgent: { keepAlive: true, maxSockets } },
  });
}

function objects(prefix: string, spec: Spec): ObjectRef[] {
  return Array.from({ length: spec.count }, (_, i) => ({ key: `${prefix}/${i}`, offset: (i * 7919 + spec.size) % MiB }));
}

/** Runs `work` over `items` with at most `concurrency` in flight; returns the wall-clock time and each op's latency. */
async function timedPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<number>): Promise<Timing> {
  const latenciesMs: number[] = [];
  let bytes = 0;
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      const opStarted = performance.now();
      bytes += await work(item);
      latenciesMs.push(performance.now() - opStarted);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return { seconds: (performance.now() - started) / 1000, bytes, ops: items.length, latenciesMs };
}

async function putBuffer(t: Target, key: string, body: Buffer, signal: AbortSignal): Promise<number> {
  await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: body }), { abortSignal: signal });
  return body.byteLength;
}

async function putStream(t: Target, ref: ObjectRef, size: number, signal: AbortSignal): Promise<number> {
  await t.client.send(
    new PutObjectCommand({ Bucket: t.bucket, Key: ref.key, Body: objectStream(ref.offset, size), ContentLength: size }),
    { abortSignal: signal },
  );
  return size;
}

/**
 * Uploads `size` generated bytes (every 1 MiB block different) with lib-storage's Upload: CreateMultipartUpload,
 * `partSize` parts with `queueSize` in flight, CompleteMultipartUpload. It aborts the upload itself when a part fails.
 */
async function putMultipart(t: Target, ref: ObjectRef, size: number, signal: AbortSignal): Promise<number> {
  // Upload takes an AbortController, not a signal; it stops queueing parts and rejects done() when it fires.
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(signal.reason);
  if (signal.aborted) onAbort();
  else signal.addEventListener('abort', onAbort, { once: true });
  try {
    const upload = new Upload({
      client: t.client,
      params: { Bucket: t.bucket, Key: ref.key, Body: objectStream(ref.offset, size, DISTINCT_BLOCKS_SHIFT), ContentLength: size },
      partSize: MULTIPART.partSize,
      queueSize: MULTIPART.queueSize,
      abortController: controller,
    });
    // No check of the ETag here: radosgw 16 answers CompleteMultipartUpload with an empty one (the GET checks the bytes).
    await upload.done();
    return size;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function getChecked(t: Target, ref: ObjectRef, size: number, signal: AbortSignal, shift = 0): Promise<number> {
  const out = await t.client.send(new GetObjectCommand({ Bucket: t.bucket, Key: ref.key }), { abortSignal: signal });
  if (!(out.Body instanceof Readable)) throw new Error(`${t.path} GET ${ref.key}: no Node stream body`);
  const read = await drainAndCheck(out.Body, ref.offset, shift);
  if (read.bytes !== size) throw new Error(`${t.path} GET ${ref.key}: ${read.bytes} bytes, expected ${size}`);
  if (read.firstMismatch !== undefined) {
    throw new Error(`${t.path} GET ${ref.key}: wrong bytes from position ${read.firstMismatch} (of ${size})`);
  }
  return read.bytes;
}

async function deleteAll(t: Target, refs: readonly ObjectRef[], signal: AbortSignal): Promise<void> {
  await timedPool(refs, 8, async (ref) => {
    await t.client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: ref.key }), { abortSignal: signal });
    return 0;
  });
}

/** For an AbortMultipartUpload: NoSuchUpload means someone else (lib-storage itself, after a failure) was first. */
function goneAlready(err: unknown): void {
  if (!(err instanceof Error && err.name === 'NoSuchUpload')) throw err;
}

/**
 * After a multipart phase, whatever its outcome: aborts the target's uploads still in progress for `key` and deletes
 * the object, on a deadline of its own (the phase's signal may have fired). Returns what could not be done.
 */
async function cleanUpMultipart(t: Target, key: string): Promise<string[]> {
  const problems: string[] = [];
  const abortSignal = AbortSignal.timeout(60_000);
  try {
    const listed = await t.client.send(new ListMultipartUploadsCommand({ Bucket: t.bucket, Prefix: key }), { abortSignal });
    for (const upload of listed.Uploads ?? []) {
      if (upload.Key !== key || !upload.UploadId) continue;
      await t.client.send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key: key, UploadId: upload.UploadId }), { abortSignal }).catch(goneAlready);
    }
  } catch (err) {
    problems.push(`aborting leftover uploads of ${key}: ${errorText(err)}`);
  }
  try {
    await t.client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal });
  } catch (err) {
    problems.push(`deleting ${key}: ${errorText(err)}`);
  }
  return problems;
}

/**
 * Multipart uploads still in progress in radosgw's `buckets` (asked directly, with radosgw's own credentials), each
 * aborted so that its parts' space comes back; returns them.
 */
async function abortLeftoverUploads(rgw: S3Client, buckets: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const abortSignal = AbortSignal.timeout(60_000);
  for (const bucket of buckets) {
    const listed = await rgw.send(new ListMultipartUploadsCommand({ Bucket: bucket }), { abortSignal });
    for (const upload of listed.Uploads ?? []) {
      found.push(`${bucket}/${upload.Key ?? '?'} (upload id ${upload.UploadId ?? '?'})`);
      await rgw.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }), { abortSignal }).catch(goneAlready);
    }
  }
  return found;
}

/** What a client put on the wire in the multipart phase (the first of each kind to complete), for the method notes. */
interface Wire {
  create?: string;
  part?: string;
  complete?: string;
  get?: string;
}

const wire = new Map<Path, Wire>();

/** The checksum- and encoding-related headers among `headers` (a payload's SHA-256 shown as such, not its value). */
function checksumHeaders(headers: Record<string, string> | undefined, extra: readonly string[] = []): string {
  const shown = Object.entries(headers ?? {})
    .map(([name, value]): [string, string] => [name.toLowerCase(), value])
    .filter(([name]) =>
      name.startsWith('x-amz-checksum') ||
      name.startsWith('x-amz-sdk-checksum') ||
      ['x-amz-content-sha256', 'content-encoding', 'x-amz-trailer', 'x-amz-decoded-content-length', 'transfer-encoding', ...extra].includes(name),
    )
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, value]) => `${name}: ${/^[0-9a-f]{64}$/.test(value) ? '<SHA-256 of the payload>' : value}`);
  return shown.length > 0 ? shown.join(', ') : 'none of them';
}

/** Records on `client`'s requests (signed, as sent) what `wire` shows for `path`. */
function recordWire(client: S3Client, path: Path): void {
  const seen: Wire = {};
  wire.set(path, seen);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const sent = (args.request as { headers?: Record<string, string> }).headers;
      const result = await next(args);
      const received = (result.response as { headers?: Record<string, string> } | undefined)?.headers;
      const etag = (result.output as { ETag?: string } | undefined)?.ETag;
      switch (context.commandName) {
        case 'CreateMultipartUploadCommand':
          seen.create ??= checksumHeaders(sent);
          break;
        case 'UploadPartCommand':
          seen.part ??= checksumHeaders(sent, ['content-length']);
          break;
        case 'CompleteMultipartUploadCommand':
          seen.complete ??= `sent ${checksumHeaders(sent)}; received ${checksumHeaders(received)}; ETag ${JSON.stringify(etag)}`;
          break;
        case 'GetObjectCommand':
          seen.get ??= `sent ${checksumHeaders(sent, ['x-amz-checksum-mode'])}; received ${checksumHeaders(received)}`;
          break;
      }
      return result;
    },
    // Outermost in the last step: the request as signed and sent, the response as parsed.
    { step: 'deserialize', priority: 'high', name: 'benchRecordWire' },
  );
}

/** PUTs then GETs `spec` objects of Buffer bodies (built before the clock starts), then deletes them. */
async function putGetBuffers(t: Target, prefix: string, spec: Spec, signal: AbortSignal): Promise<{ put: Timing; get: Timing }> {
  const refs = objects(prefix, spec);
  const bodies = new Map(refs.map((ref) => [ref.key, objectBuffer(ref.offset, spec.size)]));
  const put = await timedPool(refs, spec.concurrency, (ref) => putBuffer(t, ref.key, bodies.get(ref.key)!, signal));
  bodies.clear();
  const get = await timedPool(refs, spec.concurrency, (ref) => getChecked(t, ref, spec.size, signal));
  await deleteAll(t, refs, signal);
  return { put, get };
}

// ---------------------------------------------------------------------------------------------- phases

interface Phase {
  name: string;
  timeoutMs: number;
  run(signal: AbortSignal): Promise<void>;
}

/** What could not be measured: the run exits 1 when there is any. */
const failures: string[] = [];
/** Disturbances that were recovered from (a phase re-run). */
const notes: string[] = [];
/** Set once the whole run is cut off: no phase starts after that. */
let cutOff = false;

const sameSet = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/** Runs one phase within its time limit; re-runs it once if wrangler replaced workerd meanwhile (a reload). */
async function runPhase(stack: BenchStack, phase: Phase): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    if (cutOff) return false;
    const alive = stack.alive();
    if (!alive.worker || !alive.proxy || !alive.radosgw) {
      const why = [
        alive.worker ? '' : "the orchestrator's wrangler exited",
        alive.proxy ? '' : "the bare proxy's wrangler exited",
        alive.radosgw ? '' : 'radosgw died',
      ];
      failures.push(`${phase.name}: skipped (${why.filter(Boolean).join('; ')})`);
      return false;
    }
    const allWorkerd = (): number[] => [...stack.workerdPids(), ...stack.proxyWorkerdPids()];
    const before = allWorkerd();
    progress(`${phase.name}${attempt > 1 ? ` (attempt ${attempt})` : ''} ...`);
    const started = performance.now();
    const problem = await withTimeout(phase.timeoutMs, phase.run);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const after = allWorkerd();
    const where = `${phase.name}${attempt > 1 ? ` (attempt ${attempt})` : ''}`;
    if (cutOff) return false;
    if (!stack.alive().radosgw) failures.push(`${where}: radosgw died during the phase`);
    if (!stack.alive().worker) failures.push(`${where}: the orchestrator's wrangler exited during the phase`);
    if (!stack.alive().proxy) failures.push(`${where}: the bare proxy's wrangler exited during the phase`);
    if (!sameSet(before, after)) {
      const note =
        `${where}: workerd was replaced during the phase (pids ${before.join(', ')} -> ${after.join(', ') || 'none'}); ` +
        'wrangler dev restarts it when it reloads the Worker (a watched source file changed) or when it crashed';
      progress(note);
      await stack.waitHealthy(30_000).catch((err: unknown) => failures.push(`${where}: ${errorText(err)}`));
      if (attempt === 1 && stack.alive().worker && stack.alive().proxy) {
        notes.push(`${note}${problem ? `; it failed with: ${problem}` : ''}; re-run`);
        continue;
      }
      failures.push(`${note}${problem ? `; it failed with: ${problem}` : ''}`);
      return false;
    }
    if (problem !== undefined) {
      failures.push(`${where}: ${problem}`);
      progress(`${where}: FAILED after ${seconds} s: ${problem}`);
      return false;
    }
    progress(`${where}: done in ${seconds} s; ${workerdRssNow(stack)}`);
    return true;
  }
}

/** Runs `work`, aborting it after `timeoutMs`; resolves with the problem's text, or undefined when it succeeded. */
async function withTimeout(timeoutMs: number, work: (signal: AbortSignal) => Promise<void>): Promise<string | undefined> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new Error(`timed out after ${timeoutMs / 1000} s`);
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  try {
    await Promise.race([work(controller.signal), timeout]);
    return undefined;
  } catch (err) {
    return errorText(err);
  } finally {
    clearTimeout(timer);
  }
}

/** An error's text, with the HTTP status and body the SDK saw when it has them. */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let text = `${err.name}: ${err.message.split('\n')[0]}`;
  const extra = err as Error & { $metadata?: { httpStatusCode?: number }; $response?: { statusCode?: number; body?: unknown } };
  const status = extra.$metadata?.httpStatusCode ?? extra.$response?.statusCode;
  if (status !== undefined) text += ` (HTTP ${status})`;
  const body = extra.$response?.body;
  if (typeof body === 'string' && body.length > 0) text += ` body: ${body.slice(0, 300)}`;
  return text;
}

function workerdRssNow(stack: BenchStack): string {
  const pids = stack.workerdPids();
  const each = pids.map((pid) => `${pid}: ${mb(rssBytes(pid) ?? 0)}`).join(', ');
  return `orchestrator workerd RSS ${mb(totalRss(pids))} MB (${each}); bare proxy's ${mb(totalRss(stack.proxyWorkerdPids()))} MB`;
}

// ---------------------------------------------------------------------------------------------- report

interface Row {
  label: string;
  unit: 'MB/s' | 'ops/s';
  direct?: number | undefined;
  proxy?: number | undefined;
  orchestrator?: number | undefined;
  /** Minimum orchestrator/bare proxy ratio, when this row has a target (signed-payload PUTs have none: SHA-256 of every byte is the protocol's price). */
  minRatio?: number;
}

const rows: Row[] = [];
const latencies: { label: string; direct?: number[]; proxy?: number[]; orchestrator?: number[] }[] = [];
const rss: { label: string; sample: RssSample; seconds: number }[] = [];
const openLoops = new Map<Path, LoopResult>();
const closedLoops = new Map<Path, LoopResult>();
/** The machine's CPU (ms) during each closed loop (from its first pair to its last), by part of the stack. */
const closedLoopCpu = new Map<Path, Map<string, number>>();
let roundTrips: RoundTrips[] = [];
/** workerd's summed RSS once the stack answered, before any measurement. */
let startupRss: number | undefined;

function record(label: string, unit: Row['unit'], path: Path, value: number, minRatio?: number): void {
  let row = rows.find((r) => r.label === label);
  if (!row) {
    row = { label, unit, ...(minRatio === undefined ? {} : { minRatio }) };
    rows.push(row);
  }
  row[path] = value;
}

function recordLatency(label: string, path: Path, values: number[]): void {
  let entry = latencies.find((l) => l.label === label);
  if (!entry) {
    entry = { label };
    latencies.push(entry);
  }
  entry[path] = values;
}

const mbps = (t: Timing): number => t.bytes / MB / t.seconds;
const opsps = (t: Timing): number => t.ops / t.seconds;
const fmt = (value: number | undefined, digits = 1): string => (value === undefined ? '-' : value.toFixed(digits));
const ratioOf = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : a / b);
const fmtRatio = (ratio: number | undefined): string => (ratio === undefined ? '-' : `${ratio.toFixed(2)}x`);
const mb = (bytes: number): string => (bytes / MB).toFixed(1);

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? NaN;
}

const failedCount = (r: LoopResult): number => [...r.failures.values()].reduce((a, b) => a + b, 0);
const failureList = (r: LoopResult): string => [...r.failures].map(([code, n]) => `${n}x ${code}`).join(', ');
const p5099 = (values: readonly number[]): string => (values.length ? `${fmt(percentile(values, 50))} / ${fmt(percentile(values, 99))}` : '-');

function printSmallObjects(): void {
  if (openLoops.size === 0 && closedLoops.size === 0 && roundTrips.length === 0) return;
  const paths: Path[] = ['direct', 'proxy', 'orchestrator'];
  console.log(`\n== Small objects: open loop (${OPEN_LOOP.size / KiB} KiB PUT then GET, ${OPEN_LOOP.rate} pairs/s for ${OPEN_LOOP.seconds} s) and closed loop (${CLOSED_LOOP.clients} clients x ${CLOSED_LOOP.pairsEach} pairs, 1-64 KiB); latency in ms`);
  console.log(
    table(
      ['Path', 'Loop', 'Pairs', 'Seconds', 'Pairs/s', 'Failed requests', 'Wrong bytes', 'PUT p50 / p99', 'GET p50 / p99'],
      (['open', 'closed'] as const).flatMap((loop) =>
        paths.flatMap((path) => {
          const r = (loop === 'open' ? openLoops : closedLoops).get(path);
          if (!r) return [];
          return [[PATH_NAMES[path], loop, String(r.pairs), r.seconds.toFixed(1), (r.pairs / r.seconds).toFixed(1), `${failedCount(r)}${failedCount(r) ? ` (${failureList(r)})` : ''}`, String(r.wrongBytes), p5099(r.putMs), p5099(r.getMs)]];
        }),
      ),
      [false, false, true, true, true, false, true, true, true],
    ),
  );
  const targets: string[][] = [];
  const open = { orch: openLoops.get('orchestrator'), proxy: openLoops.get('proxy') };
  if (open.orch && open.proxy) {
    for (const [label, pick] of [['PUT', (r: LoopResult) => r.putMs], ['GET', (r: LoopResult) => r.getMs]] as const) {
      const orch = percentile(pick(open.orch), 99);
      const proxy = percentile(pick(open.proxy), 99);
      const ratio = orch / proxy;
      targets.push([`open loop ${label} p99`, `${fmt(orch)} ms`, `${fmt(proxy)} ms`, fmtRatio(ratio), `<= ${SMALL_P99_TARGET}x proxy`, ratio <= SMALL_P99_TARGET ? 'PASS' : 'MISS']);
    }
    const failed = failedCount(open.orch) + open.orch.wrongBytes;
    targets.push(['open loop failures + wrong bytes', String(failed), String(failedCount(open.proxy) + open.proxy.wrongBytes), '', '0', failed === 0 ? 'PASS' : 'MISS']);
  }
  const closed = { orch: closedLoops.get('orchestrator'), proxy: closedLoops.get('proxy') };
  if (closed.orch && closed.proxy) {
    const orch = closed.orch.pairs / closed.orch.seconds;
    const proxy = closed.proxy.pairs / closed.proxy.seconds;
    targets.push(['closed loop pairs/s', fmt(orch), fmt(proxy), fmtRatio(orch / proxy), `>= ${CLOSED_LOOP_RATIO_TARGET}x proxy`, orch / proxy >= CLOSED_LOOP_RATIO_TARGET ? 'PASS' : 'MISS']);
    const failed = failedCount(closed.orch) + closed.orch.wrongBytes;
    targets.push(['closed loop failures + wrong bytes', String(failed), String(failedCount(closed.proxy) + closed.proxy.wrongBytes), '', '0', failed === 0 ? 'PASS' : 'MISS']);
  }
  smallTargets.push(...targets.map(([measurement = '', orchestrator = '', yardstick = '', ratio = '', target = '', result]) => targetRow(measurement, orchestrator, `${yardstick} (proxy)`, ratio, target, result)));
  smallTargets.push(
    ...roundTrips.flatMap((r) =>
      r.goal === undefined ? [] : [targetRow(`${r.operation}: database statements`, String(r.statements), '', '', `<= ${r.goal}, no connection`, r.statements <= r.goal && r.connects === 0 ? 'PASS' : 'MISS')],
    ),
  );
  if (targets.length > 0) {
    console.log('\nTargets (issue 18):');
    console.log(table(['Measurement', 'Orchestrator', 'Bare proxy', 'Orch/proxy', 'Target', 'Result'], targets, [false, true, true, true, false, false]));
  }
  printClosedLoopCpu();
  if (roundTrips.length > 0) {
    console.log('\nDatabase round trips per operation through the orchestrator (its Server-Timing; a statement is one round trip, a new connection several):');
    console.log(
      table(
        ['Operation', 'Statements', 'New connections', 'Goal', 'Result'],
        roundTrips.map((r) => [
          r.operation,
          String(r.statements),
          String(r.connects),
          r.goal === undefined ? '' : `${r.goal}, no connection`,
          r.goal === undefined ? '' : r.statements <= r.goal && r.connects === 0 ? 'PASS' : 'MISS',
        ]),
        [false, true, true, false, false],
      ),
    );
  }
}

const BENCH_PROCESS = 'bench process: S3 client, local Neon endpoint';
/** The two Workers' names in the CPU split (stackGroups). */
const ORCHESTRATOR = 'orchestrator';
const BARE_PROXY = 'bare proxy';

/**
 * Where the machine's CPU went per pair in each closed loop. On this machine every part of the stack shares the
 * same cores, so a closed loop's rate follows the CPU one pair costs all of them together; in production the
 * database (here PostgreSQL and the local Neon endpoint) runs elsewhere and the Worker's log lines are collected
 * outside it (here wrangler's node reads them from workerd), so a second figure leaves those out.
 */
function printClosedLoopCpu(): void {
  const paths = (['direct', 'proxy', 'orchestrator'] as const).filter((p) => closedLoopCpu.has(p) && closedLoops.has(p));
  if (paths.length === 0) return;
  const perPair = (path: Path, group?: string): number => {
    const spent = closedLoopCpu.get(path)!;
    const ms = group === undefined ? [...spent.values()].reduce((a, b) => a + b, 0) : (spent.get(group) ?? 0);
    return ms / closedLoops.get(path)!.pairs;
  };
  const groups = [...new Set(paths.flatMap((p) => [...closedLoopCpu.get(p)!.keys()]))].sort((a, b) => perPair('orchestrator', b) - perPair('orchestrator', a));
  console.log('\nMachine CPU per PUT+GET pair during each closed loop (ms, every process, from the first pair to the last):');
  console.log(
    table(
      ['Process', ...paths.map((p) => PATH_NAMES[p])],
      [...groups.map((g) => [g, ...paths.map((p) => perPair(p, g).toFixed(2))]), ['total', ...paths.map((p) => perPair(p).toFixed(2))]],
      [false, ...paths.map(() => true)],
    ),
  );
  if (!paths.includes('proxy') || !paths.includes('orchestrator')) return;
  // The local Neon endpoint's share of the bench process: what it spent beyond the bare proxy run's (client only).
  const database = perPair('orchestrator', POSTGRES_GROUP) + Math.max(0, perPair('orchestrator', BENCH_PROCESS) - perPair('proxy', BENCH_PROCESS));
  const logCollection = Math.max(0, perPair('orchestrator', wranglerGroup(ORCHESTRATOR)) - perPair('proxy', wranglerGroup(BARE_PROXY)));
  const rest = perPair('orchestrator') - database - logCollection;
  console.log(
    `  Orchestrator / bare proxy, machine CPU per pair: ${fmtRatio(perPair('proxy') / perPair('orchestrator'))} (the closed loop's rate ratio follows it).` +
      `\n  Of the orchestrator's ${fmt(perPair('orchestrator'))} ms, ${fmt(database)} ms are the database and its local endpoint and ${fmt(logCollection)} ms` +
      `\n  wrangler's collection of the Worker's log lines (its node beyond the bare proxy's); without them ${fmt(rest)} ms, ` +
      `${fmtRatio(perPair('proxy') / rest)} of the bare proxy's (an estimate: in production those run elsewhere or not at all).`,
  );
}

/** Rows for the summary of every bench's targets (scripts/bench-summary.ts). */
const smallTargets: TargetRow[] = [];
const largeTargets: TargetRow[] = [];

function targetRow(measurement: string, orchestrator: string, yardstick: string, ratio: string, target: string, result: string | undefined): TargetRow {
  return { measurement, orchestrator, yardstick, ratio, target, result: result === 'PASS' ? 'PASS' : 'MISS' };
}

function printReport(stack: BenchStack | undefined): void {
  smallTargets.length = 0;
  largeTargets.length = 0;
  printSmallObjects();
  if (smallTargets.length > 0) recordTargets('1-small-objects', smallTargets);
  printLarge(stack);
  if (largeTargets.length > 0) recordTargets('2-large-objects', largeTargets);
}

function printLarge(stack: BenchStack | undefined): void {
  if (rows.length === 0) return printEnd(stack);
  console.log('\n== Throughput: direct to radosgw vs through the bare proxy vs through the orchestrator (MB = 10^6 bytes)');
  console.log(
    table(
      ['Measurement', 'Unit', 'Direct', 'Bare proxy', 'Orchestrator', 'Orch/proxy', 'Target', 'Result', 'Orch/direct', 'Proxy/direct'],
      rows.map((r) => {
        const ratio = ratioOf(r.orchestrator, r.proxy);
        const result = r.minRatio === undefined || ratio === undefined ? '' : ratio >= r.minRatio ? 'PASS' : 'MISS';
        if (result) largeTargets.push(targetRow(`${r.label} (${r.unit})`, fmt(r.orchestrator), `${fmt(r.proxy)} (proxy)`, fmtRatio(ratio), `>= ${r.minRatio?.toFixed(2)}x proxy`, result));
        return [
          r.label,
          r.unit,
          fmt(r.direct),
          fmt(r.proxy),
          fmt(r.orchestrator),
          fmtRatio(ratio),
          r.minRatio === undefined ? '' : `>= ${r.minRatio.toFixed(2)}x proxy`,
          result,
          fmtRatio(ratioOf(r.orchestrator, r.direct)),
          fmtRatio(ratioOf(r.proxy, r.direct)),
        ];
      }),
      [false, false, true, true, true, true, false, false, true, true],
    ),
  );
  console.log('  Bare proxy: scripts/bench-proxy/worker.ts under its own wrangler dev on the same machine, in front of the same');
  console.log('  radosgw; it authenticates nothing and only re-signs and streams. It is the toolchain\'s own ceiling for any proxy');
  console.log('  here (Orch/proxy 1.00x = the orchestrator adds nothing on top of workerd), measured in this same run; the');
  console.log('  targets are issue 18\'s, against it: GETs >= 0.9x, UNSIGNED-PAYLOAD PUTs >= 0.8x; signed-payload PUTs are reported');
  console.log('  without one (SHA-256 of every byte is the protocol\'s price). On 2 cores every figure is noisy: compare runs.');

  console.log('\n== Per-operation latency in ms (p50 / p99)');
  console.log(
    table(
      ['Operation', 'Direct', 'Bare proxy', 'Orchestrator'],
      latencies.map((l) => [
        l.label,
        ...[l.direct, l.proxy, l.orchestrator].map((v) => (v ? `${fmt(percentile(v, 50))} / ${fmt(percentile(v, 99))}` : '-')),
      ]),
      [false, true, true, true],
    ),
  );

  console.log('\n== workerd resident memory (VmRSS summed over the workerd processes under wrangler, sampled every 100 ms; MB = 10^6 bytes)');
  console.log(
    table(
      ['Transfer through the orchestrator', 'Baseline MB', 'Peak MB', 'Growth MB', 'Peak - start-up MB', 'Samples', 'Target', 'Result'],
      rss.flatMap((r) => {
        const growth = r.sample.peak - r.sample.baseline;
        largeTargets.push(targetRow(`workerd RSS growth, ${r.label}`, `${mb(growth)} MB`, '', '', `< ${mb(RSS_GROWTH_TARGET)} MB`, growth < RSS_GROWTH_TARGET ? 'PASS' : 'MISS'));
        return [
          [
            `${r.label} (${r.seconds.toFixed(1)} s)`,
            mb(r.sample.baseline),
            mb(r.sample.peak),
            mb(growth),
            startupRss === undefined ? '-' : mb(r.sample.peak - startupRss),
            String(r.sample.samples),
            `< ${mb(RSS_GROWTH_TARGET)}`,
            growth < RSS_GROWTH_TARGET ? 'PASS' : 'MISS',
          ],
          ...r.sample.perPid.map((p) => [`  of which pid ${p.pid}`, mb(p.baseline), mb(p.peak), mb(p.peak - p.baseline), '', '', '', '']),
        ];
      }),
      [false, true, true, true, true, true, false, false],
    ),
  );
  if (startupRss !== undefined) {
    console.log(`  Growth = peak - baseline (the RSS just before the transfer); workerd's RSS at start-up was ${mb(startupRss)} MB.`);
    console.log('  workerd keeps its high-water mark, so earlier phases raise the baseline and lower later growth.');
  }

  console.log('\nMethod: @aws-sdk/client-s3 (path-style, us-east-1, maxAttempts 1, no client CRC32 except where said), keep-alive.');
  console.log(
    `  4 KiB: ${SMALL.count} PUTs then ${SMALL.count} GETs, ${SMALL.concurrency} in flight; 1 MiB: ${MEDIUM.count} sequential PUTs then GETs;` +
      ` 256 MiB: ${LARGE.count} sequential PUTs then GETs.`,
  );
  console.log('  Those PUTs send Buffer bodies (SHA-256-signed payload, built before the clock starts); every GET body is read');
  console.log('  to its end, counted and compared with the expected bytes (nothing kept). 1 GiB: one PUT streamed from a');
  console.log('  generator (Content-Length known, UNSIGNED-PAYLOAD) and one GET, direct first, then through the bare proxy,');
  console.log('  then through the orchestrator while sampling its workerd RSS. Every size runs direct, bare proxy, orchestrator');
  console.log('  in that order; objects are deleted after each size and path and radosgw GC is run after the large ones.');
  console.log(
    `  1 GiB multipart: @aws-sdk/lib-storage Upload (partSize ${MULTIPART.partSize / MiB} MiB, queueSize ${MULTIPART.queueSize}) of a stream`,
  );
  console.log('  generated on the fly in 1 MiB blocks that all differ (lib-storage gathers them into 64 MiB Buffers, so each part');
  console.log('  has a known length and the client holds at most a few parts), timed from CreateMultipartUpload to');
  console.log('  CompleteMultipartUpload; then one GET read to its end and checked block by block. Client checksums: direct and');
  console.log("  bare proxy: requestChecksumCalculation (and responseChecksumValidation) WHEN_REQUIRED, because radosgw 16 rejects");
  console.log("  the SDK's default aws-chunked uploads with an unsigned CRC32 trailer (stream bodies); orchestrator: the SDK's");
  console.log('  defaults (WHEN_SUPPORTED: CRC32 on uploads, checksum mode on GETs). lib-storage sends Buffer parts, so these');
  console.log('  defaults come out as a CRC32 header on a SHA-256-signed part rather than as aws-chunked (headers below).');
  console.log('  Afterwards the upload and object are aborted/deleted through the same path and radosgw is checked directly for');
  console.log('  multipart uploads left in progress; GC runs after each path.');
  if (wire.size > 0) {
    console.log('  Checksum/encoding headers each multipart client actually sent (the first of each kind to complete):');
    for (const [path, w] of wire) {
      console.log(`    ${PATH_NAMES[path]}:`);
      console.log(`      CreateMultipartUpload: ${w.create ?? 'not sent'}`);
      console.log(`      UploadPart: ${w.part ?? 'not sent'}`);
      console.log(`      CompleteMultipartUpload: ${w.complete ?? 'not sent'}`);
      console.log(`      GetObject: ${w.get ?? 'not sent'}`);
    }
  }
  printEnd(stack);
}

/** The Workers' output, the disturbances and what could not be measured. */
function printEnd(stack: BenchStack | undefined): void {
  if (stack) {
    const log = stack.workerLog().map((line) => line.replace(/\x1b\[[0-9;]*m/g, '')).filter((line) => line.trim() !== '');
    console.log(`\nWorker output during the run: ${log.length} line(s)${log.length ? ' (last 30 below)' : ''}`);
    for (const line of log.slice(-30)) console.log(`  | ${line}`);
    const proxyLog = stack.proxyLog().map((line) => line.replace(/\x1b\[[0-9;]*m/g, '')).filter((line) => line.trim() !== '');
    console.log(`Bare proxy output during the run: ${proxyLog.length} line(s)${proxyLog.length ? ' (last 10 below)' : ''}`);
    for (const line of proxyLog.slice(-10)) console.log(`  | ${line}`);
  }
  if (notes.length > 0) {
    console.log('\n== Disturbances (recovered by re-running the phase) and clean-ups');
    for (const n of notes) console.log(`  - ${n}`);
  }
  if (failures.length > 0) {
    console.log('\n== Problems (these figures could not be measured)');
    for (const f of failures) console.log(`  - ${f}`);
  }
}

// ---------------------------------------------------------------------------------------------- main

/** Which code the Worker was built from: the commit, and any uncommitted changes to the Worker's sources. */
function codeUnderTest(): string {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const git = (args: string[]): string | undefined => {
    const result = spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trimEnd() : undefined;
  };
  const commit = git(['rev-parse', '--short', 'HEAD']);
  if (commit === undefined) return 'not a git checkout';
  const sources = ['src', 'workers', 'wrangler.toml', 'wrangler.jsonc', 'package.json', 'scripts/bench-proxy'];
  const dirty = (git(['status', '--porcelain', '--', ...sources]) ?? '')
    .split('\n')
    .filter(Boolean);
  return `commit ${commit}${dirty.length ? ` + uncommitted: ${dirty.map((l) => l.slice(3)).join(', ')}` : ''} (the Worker runs from a copy taken now)`;
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 's3o-bench-'));
  let stack: BenchStack | undefined;
  const cutoff = setTimeout(() => {
    cutOff = true;
    progress(`the run exceeded ${RUN_TIMEOUT_MS / 60_000} min: stopping`);
    failures.push(`the whole run was cut off after ${RUN_TIMEOUT_MS / 60_000} min`);
    printReport(stack);
    // Give stop() a moment; the launchers' exit handlers (and the stack's own) kill whatever is left.
    const stopping = stack ? stack.stop() : Promise.resolve();
    void Promise.race([stopping, new Promise((resolve) => setTimeout(resolve, 20_000))]).finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(1);
    });
  }, RUN_TIMEOUT_MS);
  cutoff.unref();
  try {
    progress(`code under test: ${codeUnderTest()}`);
    stack = await startBenchStack(dir, progress);
    // Registered after the launchers' exit handlers, so it runs after they killed their processes (Ctrl-C).
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const s = stack;
    progress(
      `stack up: orchestrator ${s.worker.url} (wrangler pid ${s.worker.pid}), bare proxy ${s.proxy.url}` +
        ` (wrangler pid ${s.proxy.pid}), radosgw ${s.radosgw.endpoint}`,
    );
    startupRss = totalRss(s.workerdPids());
    if (s.workerdPids().length === 0) failures.push('no workerd process found under wrangler: RSS cannot be sampled');
    for (const pid of s.workerdPids()) progress(`  workerd pid ${pid}: RSS ${mb(rssBytes(pid) ?? 0)} MB: ${commandLine(pid).slice(0, 160)}`);
    if (s.proxyWorkerdPids().length === 0) failures.push('no workerd process found under the bare proxy\'s wrangler');
    const rgwCredentials = { accessKeyId: s.radosgw.accessKeyId, secretAccessKey: s.radosgw.secretAccessKey };
    const target = (path: Path, endpoint: string, credentials: Credentials, bucket: string): Target => ({
      client: makeClient(endpoint, credentials),
      bucket,
      path,
      endpoint,
      credentials,
    });
    const direct = target('direct', s.radosgw.endpoint, rgwCredentials, s.directBucket);
    // The proxy checks no signature and re-signs with radosgw's own credentials; the client signs anyway, as any would.
    const proxy = target('proxy', s.proxy.url, rgwCredentials, s.directBucket);
    const orchestrator = target('orchestrator', s.worker.url, s.virtualCredentials, s.virtualBucket);
    const targets = [direct, proxy, orchestrator];
    const gc = async (): Promise<void> => {
      await s.collectGarbage(60_000).catch((err: unknown) => progress(`radosgw gc failed (continuing): ${String(err)}`));
    };
    /** Times one transfer; through the orchestrator, samples its workerd's RSS meanwhile, kept under `label`. */
    const measure = async (t: Target, label: string, work: () => Promise<number>): Promise<Timing> => {
      if (t.path !== 'orchestrator') return timedPool([label], 1, work);
      const sampler = sampleRss(s.workerdPids());
      const started = performance.now();
      try {
        return await timedPool([label], 1, work);
      } finally {
        // A re-run phase replaces what its first attempt recorded.
        const entry = { label, sample: sampler.stop(), seconds: (performance.now() - started) / 1000 };
        const at = rss.findIndex((r) => r.label === label);
        if (at >= 0) rss[at] = entry;
        else rss.push(entry);
      }
    };
    // Let workerd settle after an upload so the GET's baseline is its own.
    const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1000));

    await runPhase(s, {
      name: 'warm-up (4 x 1 MiB PUT+GET per path, not counted)',
      timeoutMs: 60_000,
      async run(signal) {
        for (const t of targets) await putGetBuffers(t, 'warmup', { size: MiB, count: 4, concurrency: 1 }, signal);
      },
    });

    if (runSmall) {
      for (const t of targets) {
        // A client of its own with room for every pair in flight: the open loop's latency is the server's, not a
        // client-side socket queue's.
        const loopTarget = { client: makeClient(t.endpoint, t.credentials, 'when-required', 512), bucket: t.bucket };
        await runPhase(s, {
          name: `${OPEN_LOOP.size / KiB} KiB open loop, ${OPEN_LOOP.rate} PUT+GET pairs/s for ${OPEN_LOOP.seconds} s (${PATH_NAMES[t.path]})`,
          timeoutMs: 120_000,
          async run(signal) {
            openLoops.set(t.path, await openLoop(loopTarget, 'open', OPEN_LOOP, signal));
          },
        });
        await runPhase(s, {
          name: `closed loop, ${CLOSED_LOOP.clients} clients x ${CLOSED_LOOP.pairsEach} PUT+GET pairs of 1-64 KiB (${PATH_NAMES[t.path]})`,
          timeoutMs: 180_000,
          async run(signal) {
            const groupOf = stackGroups([{ name: ORCHESTRATOR, pid: s.worker.pid }, { name: BARE_PROXY, pid: s.proxy.pid }], BENCH_PROCESS);
            let before: ProcEntry[] = [];
            const span = {
              started: () => { before = processes(); },
              finished: () => { closedLoopCpu.set(t.path, cpuSpentMs(before, processes(), groupOf)); },
            };
            closedLoops.set(t.path, await closedLoop(loopTarget, 'closed', CLOSED_LOOP, signal, span));
          },
        });
        loopTarget.client.destroy();
      }
      await runPhase(s, {
        name: 'database round trips per operation (orchestrator, Server-Timing)',
        timeoutMs: 60_000,
        async run(signal) {
          const client = makeClient(orchestrator.endpoint, orchestrator.credentials);
          try {
            roundTrips = await databaseRoundTrips({ client, bucket: orchestrator.bucket }, 'trips', signal);
          } finally {
            client.destroy();
          }
        },
      });
    }

    if (runLarge) await measureLarge();
    progress(`at the end: ${workerdRssNow(s)}`);
    async function measureLarge(): Promise<void> {
      for (const t of targets) {
        await runPhase(s, {
          name: `4 KiB x${SMALL.count} PUT then GET, ${SMALL.concurrency} in flight (${PATH_NAMES[t.path]})`,
          timeoutMs: 120_000,
          async run(signal) {
            const { put, get } = await putGetBuffers(t, 'small', SMALL, signal);
            record('PUT 4 KiB', 'ops/s', t.path, opsps(put));
            record('GET 4 KiB', 'ops/s', t.path, opsps(get));
            record('PUT+GET 4 KiB combined', 'ops/s', t.path, (put.ops + get.ops) / (put.seconds + get.seconds));
            recordLatency(`PUT 4 KiB (${SMALL.concurrency} in flight)`, t.path, put.latenciesMs);
            recordLatency(`GET 4 KiB (${SMALL.concurrency} in flight)`, t.path, get.latenciesMs);
          },
        });
      }

      for (const t of targets) {
        await runPhase(s, {
          name: `1 MiB x${MEDIUM.count} sequential PUT then GET (${PATH_NAMES[t.path]})`,
          timeoutMs: 120_000,
          async run(signal) {
            const { put, get } = await putGetBuffers(t, 'medium', MEDIUM, signal);
            record(`PUT 1 MiB x${MEDIUM.count} sequential`, 'MB/s', t.path, mbps(put));
            record(`GET 1 MiB x${MEDIUM.count} sequential`, 'MB/s', t.path, mbps(get));
            recordLatency('PUT 1 MiB (sequential)', t.path, put.latenciesMs);
            recordLatency('GET 1 MiB (sequential)', t.path, get.latenciesMs);
          },
        });
      }

      for (const t of targets) {
        await runPhase(s, {
          name: `256 MiB x${LARGE.count} sequential PUT then GET (${PATH_NAMES[t.path]})`,
          timeoutMs: 180_000,
          async run(signal) {
            const { put, get } = await putGetBuffers(t, 'large', LARGE, signal);
            record(`PUT 256 MiB x${LARGE.count} sequential (signed payload)`, 'MB/s', t.path, mbps(put));
            record(`GET 256 MiB x${LARGE.count} sequential`, 'MB/s', t.path, mbps(get), LARGE_GET_TARGET);
          },
        });
        await gc();
      }

      for (const t of targets) {
        await runPhase(s, {
          name: `1 GiB streamed PUT then GET (${PATH_NAMES[t.path]}${t.path === 'orchestrator' ? ', sampling workerd RSS' : ''})`,
          timeoutMs: 180_000,
          async run(signal) {
            const [ref] = objects('huge', HUGE);
            if (!ref) throw new Error('unreachable');
            const put = await measure(t, '1 GiB PUT (streamed)', () => putStream(t, ref, HUGE.size, signal));
            record('PUT 1 GiB streamed (UNSIGNED-PAYLOAD)', 'MB/s', t.path, mbps(put), LARGE_UNSIGNED_PUT_TARGET);
            await settle();
            const get = await measure(t, '1 GiB GET', () => getChecked(t, ref, HUGE.size, signal));
            record('GET 1 GiB', 'MB/s', t.path, mbps(get), LARGE_GET_TARGET);
            await deleteAll(t, [ref], signal);
          },
        });
        await gc();
      }

      const parts = `${MULTIPART.partSize / MiB} MiB parts, ${MULTIPART.queueSize} in flight`;
      /** One attempt of the multipart phase through `t`, then its clean-up whatever happened. */
      const multipartAttempt = async (t: Target, name: string, signal: AbortSignal): Promise<void> => {
        const ref: ObjectRef = { key: 'multipart/0', offset: 4242 };
        // A client of its own, with the SDK's checksum defaults through the orchestrator (radosgw 16 refuses the
        // SDK's default streaming uploads, so the direct and bare proxy clients keep WHEN_REQUIRED). Destroying it
        // also cuts parts still in flight after a timeout (Upload does not hand its signal to its requests).
        const client = makeClient(t.endpoint, t.credentials, t.path === 'orchestrator' ? 'sdk-defaults' : 'when-required');
        recordWire(client, t.path);
        const cut = (): void => client.destroy();
        signal.addEventListener('abort', cut, { once: true });
        const mt: Target = { ...t, client };
        try {
          const put = await measure(t, `1 GiB multipart upload (${parts})`, () => putMultipart(mt, ref, MULTIPART.size, signal));
          record(`PUT 1 GiB multipart, ${MULTIPART.partSize / MiB} MiB x${MULTIPART.queueSize} (signed parts)`, 'MB/s', t.path, mbps(put));
          await settle();
          const get = await measure(t, '1 GiB GET (the multipart object)', () =>
            getChecked(mt, ref, MULTIPART.size, signal, DISTINCT_BLOCKS_SHIFT),
          );
          record('GET 1 GiB multipart object', 'MB/s', t.path, mbps(get), LARGE_GET_TARGET);
        } finally {
          signal.removeEventListener('abort', cut);
          client.destroy();
          // With the target's usual client: whatever happened above, nothing of this phase stays in radosgw.
          for (const problem of await cleanUpMultipart(t, ref.key)) failures.push(`${name}: clean-up: ${problem}`);
        }
      };
      for (const t of targets) {
        const name = `1 GiB multipart upload (${parts}) then GET (${PATH_NAMES[t.path]}${t.path === 'orchestrator' ? ', sampling workerd RSS' : ''})`;
        /** The last attempt, clean-up included: a timeout ends the phase before its clean-up has run. */
        let attempt: Promise<unknown> = Promise.resolve();
        await runPhase(s, {
          name,
          timeoutMs: 240_000,
          run(signal) {
            const running = multipartAttempt(t, name, signal);
            attempt = running.catch(() => undefined);
            return running;
          },
        });
        // Bounded anyway: the clean-up has a deadline of its own, and the aborted transfers end with their client.
        await Promise.race([attempt, new Promise((resolve) => setTimeout(resolve, 90_000).unref())]);
        try {
          const left = await abortLeftoverUploads(direct.client, [s.directBucket, s.backendBucket]);
          if (left.length > 0) notes.push(`after ${name}: multipart uploads left in progress on radosgw, aborted directly: ${left.join('; ')}`);
        } catch (err) {
          failures.push(`after ${name}: listing or aborting radosgw's leftover multipart uploads: ${errorText(err)}`);
        }
        await gc();
      }
    }
  } catch (err) {
    failures.push(`stack: ${errorText(err)}`);
    progress(`could not run the benchmark: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    printReport(stack);
    progress('stopping the stack');
    if (stack) await stack.stop();
    rmSync(dir, { recursive: true, force: true });
    clearTimeout(cutoff);
  }
  console.log(`\nTotal run time: ${elapsed()}`);
  return failures.length > 0 ? 1 : 0;
}

process.exit(await main());
