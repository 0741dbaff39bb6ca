/**
 * The benchmark's small-object workloads (scripts/bench.ts): an open loop that starts a PUT-then-GET pair at a
 * fixed rate whatever the answers so far (the arrival pattern of many independent users, where a server that
 * queues without bound shows it), a closed loop of clients that each start their next pair when the last ended
 * (the server's sustained rate), and the database round trips each S3 operation makes (Server-Timing).
 * Every failure is counted by its code; the SDK does not retry.
 */
import { createHash } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { KiB, objectBuffer } from './bench-data.ts';

export interface SmallTarget {
  client: S3Client;
  bucket: string;
}

export interface LoopResult {
  pairs: number;
  seconds: number;
  putMs: number[];
  getMs: number[];
  /** Failed requests by error code (or message), PUT and GET together. */
  failures: Map<string, number>;
  /** GETs that answered with other bytes than the PUT sent. */
  wrongBytes: number;
}

/** Requests are cut off after this: an open loop's overload must show as errors or latency, never as a hang. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The error's name, with its HTTP status or its socket error code: the SDK names a reset connection (ECONNRESET,
 * EPIPE) a TimeoutError as well as a connection that took too long to open.
 */
function failureCode(err: unknown): string {
  if (err instanceof Error) {
    const { $metadata, code } = err as Error & { $metadata?: { httpStatusCode?: number }; code?: unknown };
    const status = $metadata?.httpStatusCode;
    const detail = status !== undefined ? `HTTP ${status}` : typeof code === 'string' ? code : undefined;
    return `${err.name}${detail === undefined ? '' : ` (${detail})`}`;
  }
  return String(err);
}

async function pair(t: SmallTarget, key: string, body: Buffer, result: LoopResult, signal: AbortSignal): Promise<void> {
  const abortSignal = AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
  const fail = (err: unknown): void => {
    const code = failureCode(err);
    result.failures.set(code, (result.failures.get(code) ?? 0) + 1);
  };
  let started = performance.now();
  try {
    await t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: body }), { abortSignal });
    result.putMs.push(performance.now() - started);
  } catch (err) {
    return fail(err);
  }
  started = performance.now();
  try {
    const out = await t.client.send(new GetObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal });
    const bytes = Buffer.from((await out.Body?.transformToByteArray()) ?? []);
    result.getMs.push(performance.now() - started);
    if (!bytes.equals(body)) result.wrongBytes++;
  } catch (err) {
    fail(err);
  }
}

const emptyResult = (): LoopResult => ({ pairs: 0, seconds: 0, putMs: [], getMs: [], failures: new Map(), wrongBytes: 0 });

/** Starts a pair of `size` bytes every 1000/rate ms for `seconds`, then waits for all of them; deletes the objects. */
export async function openLoop(t: SmallTarget, prefix: string, opts: { size: number; rate: number; seconds: number }, signal: AbortSignal): Promise<LoopResult> {
  const result = emptyResult();
  const total = Math.round(opts.rate * opts.seconds);
  const running: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < total && !signal.aborted; i++) {
    // On schedule from the start, not from the previous pair: a slow answer does not slow the arrivals.
    const due = started + (i * 1000) / opts.rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    running.push(pair(t, `${prefix}/${i}`, objectBuffer(i * 131, opts.size), result, signal));
  }
  await Promise.all(running);
  result.pairs = total;
  result.seconds = (performance.now() - started) / 1000;
  await deleteKeys(t, Array.from({ length: total }, (_, i) => `${prefix}/${i}`), signal);
  return result;
}

/** Called as the first pair starts and as the last one ends (before the clean-up), e.g. to take CPU snapshots. */
export interface LoopSpan {
  started(): void;
  finished(): void;
}

/** `clients` loops, each running `pairsEach` pairs one after the other, of sizes from 1 to 64 KiB. */
export async function closedLoop(
  t: SmallTarget,
  prefix: string,
  opts: { clients: number; pairsEach: number },
  signal: AbortSignal,
  span?: LoopSpan,
): Promise<LoopResult> {
  const result = emptyResult();
  const keys: string[] = [];
  span?.started();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: opts.clients }, async (_, c) => {
      for (let i = 0; i < opts.pairsEach && !signal.aborted; i++) {
        const key = `${prefix}/${c}/${i}`;
        keys.push(key);
        // 1-64 KiB, spread evenly and the same in every run.
        const size = (1 + ((c * 7 + i * 13) % 64)) * KiB;
        await pair(t, key, objectBuffer(c * 1009 + i, size), result, signal);
      }
    }),
  );
  result.pairs = keys.length;
  result.seconds = (performance.now() - started) / 1000;
  span?.finished();
  await deleteKeys(t, keys, signal);
  return result;
}

async function deleteKeys(t: SmallTarget, keys: readonly string[], signal: AbortSignal): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < keys.length && !signal.aborted) {
      const key = keys[next++]!;
      await t.client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal: signal }).catch(() => {});
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
}

export interface RoundTrips {
  operation: string;
  statements: number;
  connects: number;
  /** The goal issue 18 sets for the operation. */
  goal?: number;
}

/**
 * The database round trips of each S3 operation through the orchestrator, as its Server-Timing reports them
 * (`X-S3O-Trace: 1`): statements (each one round trip over HTTP, or on a connection) and new connections.
 */
export async function databaseRoundTrips(t: SmallTarget, prefix: string, signal: AbortSignal): Promise<RoundTrips[]> {
  const seen = new Map<string, string>();
  t.client.middlewareStack.add(
    (next, context) => async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers['x-s3o-trace'] = '1';
      const out = await next(args);
      const headers = (out.response as { headers?: Record<string, string> } | undefined)?.headers ?? {};
      seen.set(context.commandName ?? '?', headers['server-timing'] ?? '');
      return out;
    },
    { step: 'build', name: 'benchTrace' },
  );
  const trips = (command: string): { statements: number; connects: number } => {
    const match = /db;desc="statements=(\d+) connects=(\d+)"/.exec(seen.get(command) ?? '');
    return { statements: Number(match?.[1] ?? NaN), connects: Number(match?.[2] ?? NaN) };
  };
  const rows: RoundTrips[] = [];
  const body = objectBuffer(7, KiB);
  const key = `${prefix}/${createHash('sha256').update(prefix).digest('hex').slice(0, 8)}`;
  const measure = async (operation: string, command: string, run: () => Promise<unknown>, goal?: number): Promise<void> => {
    await run();
    rows.push({ operation, ...trips(command), ...(goal === undefined ? {} : { goal }) });
  };
  await measure('PUT (new key)', 'PutObjectCommand', () => t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: body }), { abortSignal: signal }), 2);
  await measure('PUT (overwrite)', 'PutObjectCommand', () => t.client.send(new PutObjectCommand({ Bucket: t.bucket, Key: key, Body: body }), { abortSignal: signal }), 2);
  await measure('GET', 'GetObjectCommand', async () => {
    const out = await t.client.send(new GetObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal: signal });
    await out.Body?.transformToByteArray();
  }, 1);
  await measure('HEAD', 'HeadObjectCommand', () => t.client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal: signal }), 1);
  await measure('LIST (prefix, delimiter /)', 'ListObjectsV2Command', () =>
    t.client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: `${prefix}/`, Delimiter: '/' }), { abortSignal: signal }), 1);
  await measure('DELETE', 'DeleteObjectCommand', () => t.client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: key }), { abortSignal: signal }));
  t.client.middlewareStack.remove('benchTrace');
  return rows;
}
