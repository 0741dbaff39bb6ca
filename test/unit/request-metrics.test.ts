/**
 * The request metrics from an isolate's counts to the /metrics text: bucketing, batches and their numbering, the
 * shard's exactly-once merge (in memory and in the real Durable Object, which runs here in workerd), and rendering.
 * No clock is real: every "now" is a number the test passes.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { renderMetrics } from '../../src/observe/metrics.ts';
import { FLUSH_INTERVAL_MS, type SendBatches, createMetricsRecorder } from '../../src/observe/metrics-recorder.ts';
import { METRICS_SHARDS, type MetricsBatch, sumTotals } from '../../src/observe/metrics-shard.ts';
import {
  BACKEND_SECONDS,
  REQUESTS,
  REQUEST_DURATION,
  REQUEST_SECONDS,
  RESPONSE_SIZE,
  SIZE_BYTES,
  bucketIndex,
  seriesKey,
} from '../../src/observe/request-metric-families.ts';
import { BUILD_VERSION, createRequestMetrics, declaredLength, recordBackendCall, recordRequest, requestFamilies, sendToShard } from '../../src/observe/request-metrics.ts';
import packageJson from '../../package.json' with { type: 'json' };
import { expectedSamples, samplesOf } from '../support/prometheus-text.ts';
import { memoryShard } from './support/memory-metrics.ts';

const request = (method: string, status: number, seconds: number, bytes?: { requestBytes?: number; responseBytes?: number }) => ({
  method,
  status,
  seconds,
  requestBytes: bytes?.requestBytes,
  responseBytes: bytes?.responseBytes,
});

describe('bucket bounds', () => {
  it('are the reference buckets: request 5 ms to 60 s, sizes 1 KiB x4 to 256 GiB, backend 10 ms to 120 s', () => {
    expect([REQUEST_SECONDS[0], REQUEST_SECONDS.at(-1)]).toEqual([0.005, 60]);
    expect([BACKEND_SECONDS[0], BACKEND_SECONDS.at(-1)]).toEqual([0.01, 120]);
    expect(SIZE_BYTES[0]).toBe(1024);
    expect(SIZE_BYTES.at(-1)).toBe(256 * 1024 ** 3);
    for (let i = 1; i < SIZE_BYTES.length; i++) expect(SIZE_BYTES[i]).toBe(SIZE_BYTES[i - 1]! * 4);
  });

  it('put an observation in the first bucket whose bound it does not exceed, else in +Inf', () => {
    const bounds = [1, 5, 10];
    expect(bucketIndex(bounds, 0)).toBe(0);
    expect(bucketIndex(bounds, 1)).toBe(0);
    expect(bucketIndex(bounds, 1.0001)).toBe(1);
    expect(bucketIndex(bounds, 10)).toBe(2);
    expect(bucketIndex(bounds, 10.5)).toBe(3);
  });
});

describe('declared body length', () => {
  it('is the Content-Length, 0 without a body, unknown for a body streamed without one', () => {
    expect(declaredLength(new Headers({ 'content-length': '42' }), true)).toBe(42);
    expect(declaredLength(new Headers(), false)).toBe(0);
    expect(declaredLength(new Headers(), true)).toBeUndefined();
  });
});

describe('one isolate, one shard', () => {
  it('renders counters and cumulative histograms with _sum and _count', async () => {
    const shard = memoryShard(() => 0);
    const recorder = createMetricsRecorder();
    recordRequest(recorder, request('GET', 200, 0.004, { requestBytes: 0, responseBytes: 2048 }));
    recordRequest(recorder, request('GET', 200, 0.2, { requestBytes: 0, responseBytes: 1024 }));
    recordRequest(recorder, request('GET', 404, 120, { requestBytes: 0 }));
    recordRequest(recorder, request('PUT', 200, 1, { requestBytes: 5000, responseBytes: 0 }));
    recordBackendCall(recorder, { operation: 'GetObject', backend: 'b1', ok: false, seconds: 0.5 });
    const outcome = await recorder.flush(0, sendToShard(() => shard));
    expect(outcome).toMatchObject({ confirmed: 1, unconfirmed: 0 });

    const text = renderMetrics(requestFamilies(sumTotals([await shard.totals()])));
    const { actual, expected } = expectedSamples(text, {
      's3o_requests_total{method="GET",status_code="200"}': 2,
      's3o_requests_total{method="GET",status_code="404"}': 1,
      's3o_requests_total{method="PUT",status_code="200"}': 1,
      // 0.004 s <= 5 ms; 0.2 s <= 0.25 s; 120 s only in +Inf.
      's3o_request_duration_seconds_bucket{method="GET",le="0.005"}': 1,
      's3o_request_duration_seconds_bucket{method="GET",le="0.1"}': 1,
      's3o_request_duration_seconds_bucket{method="GET",le="0.25"}': 2,
      's3o_request_duration_seconds_bucket{method="GET",le="60"}': 2,
      's3o_request_duration_seconds_bucket{method="GET",le="+Inf"}': 3,
      's3o_request_duration_seconds_count{method="GET"}': 3,
      // The 404 declared no length: two response sizes for GET, 1 KiB and 2 KiB.
      's3o_response_size_bytes_bucket{method="GET",le="1024"}': 1,
      's3o_response_size_bytes_bucket{method="GET",le="4096"}': 2,
      's3o_response_size_bytes_count{method="GET"}': 2,
      's3o_request_size_bytes_bucket{method="PUT",le="4096"}': 0,
      's3o_request_size_bytes_bucket{method="PUT",le="16384"}': 1,
      's3o_backend_requests_total{operation="GetObject",backend="b1",status="error"}': 1,
      's3o_backend_duration_seconds_bucket{operation="GetObject",backend="b1",le="0.5"}': 1,
    });
    expect(actual).toEqual(expected);
    expect(samplesOf(text, ['s3o_request_duration_seconds_sum{method="GET"}'])['s3o_request_duration_seconds_sum{method="GET"}']).toBeCloseTo(120.204, 9);
    // A family nothing was counted in still says what it is, with no sample: nothing claims a 0 it did not see.
    expect(text).toContain('# TYPE s3o_write_failover_total counter\n');
    expect(text).not.toMatch(/^s3o_write_failover_total/m);
    expect(text.match(/^# TYPE s3o_request_duration_seconds histogram$/gm)).toHaveLength(1);
  });

  it('sends a batch only when FLUSH_INTERVAL_MS has passed since the last, and only when there is something', async () => {
    const recorder = createMetricsRecorder();
    const handed: Promise<unknown>[] = [];
    const sent: MetricsBatch[][] = [];
    const send: SendBatches = async (_isolate, _shard, batches) => {
      sent.push(batches);
      return batches.at(-1)!.seq;
    };
    const waitUntil = (p: Promise<unknown>) => void handed.push(p);
    recordRequest(recorder, request('GET', 200, 0.01));
    recorder.flushIfDue(1_000, send, waitUntil);
    recorder.flushIfDue(1_000 + FLUSH_INTERVAL_MS - 1, send, waitUntil);
    expect(handed).toHaveLength(0);
    recorder.flushIfDue(1_000 + FLUSH_INTERVAL_MS, send, waitUntil);
    expect(handed).toHaveLength(1);
    await Promise.all(handed);
    expect(sent).toHaveLength(1);
    // Nothing new counted and everything confirmed: the next due moment sends nothing.
    recorder.flushIfDue(1_000 + 3 * FLUSH_INTERVAL_MS, send, waitUntil);
    expect(handed).toHaveLength(1);
  });
});

describe('a flush that fails', () => {
  it('is sent again with the same number, and the shard applies it once although the first attempt landed', async () => {
    const shard = memoryShard(() => 0);
    const recorder = createMetricsRecorder();
    let loseAnswer = true;
    const seen: number[][] = [];
    // The shard applies the batches, then the answer is lost on the way back (the isolate cannot tell).
    const send: SendBatches = async (isolate, _index, batches) => {
      seen.push(batches.map((b) => b.seq));
      const applied = await shard.merge(isolate, batches);
      if (loseAnswer) throw new Error('connection reset');
      return applied;
    };
    for (let i = 0; i < 3; i++) recordRequest(recorder, request('GET', 200, 0.01));
    expect(await recorder.flush(0, send)).toMatchObject({ confirmed: 0, unconfirmed: 1 });
    loseAnswer = false;
    for (let i = 0; i < 2; i++) recordRequest(recorder, request('GET', 200, 0.01));
    expect(await recorder.flush(1, send)).toMatchObject({ confirmed: 2, unconfirmed: 0 });
    expect(seen).toEqual([[1], [1, 2]]);
    const totals = sumTotals([await shard.totals()]);
    expect(totals.get(seriesKey(REQUESTS, ['GET', '200']))).toEqual([5]);
  });

  it('that never reached the shard is applied when it finally does', async () => {
    const shard = memoryShard(() => 0);
    const recorder = createMetricsRecorder();
    let down = true;
    const send: SendBatches = async (isolate, _index, batches) => {
      if (down) throw new Error('shard unreachable');
      return shard.merge(isolate, batches);
    };
    recordRequest(recorder, request('PUT', 500, 0.01));
    await recorder.flush(0, send);
    recordRequest(recorder, request('PUT', 500, 0.01));
    await recorder.flush(1, send);
    down = false;
    expect(await recorder.flush(2, send)).toMatchObject({ confirmed: 2, unconfirmed: 0 });
    expect(sumTotals([await shard.totals()]).get(seriesKey(REQUESTS, ['PUT', '500']))).toEqual([2]);
  });
});

describe('two isolates', () => {
  it("add up in the fleet's totals whichever shards they chose", async () => {
    const shards = Array.from({ length: METRICS_SHARDS }, () => memoryShard(() => 0));
    const a = createRequestMetrics({ recorder: createMetricsRecorder(), shard: (i) => shards[i]!, now: () => 0 });
    const bRecorder = createMetricsRecorder();
    const b = createRequestMetrics({ recorder: bRecorder, shard: (i) => shards[(i + 1) % METRICS_SHARDS]!, now: () => 0 });
    a.writeFailover('PutObject', 'b1', 'b2');
    b.writeFailover('PutObject', 'b1', 'b2');
    recordRequest(bRecorder, request('DELETE', 204, 0.01));
    await Promise.all([a.flush(), b.flush()]);
    const text = renderMetrics(await a.read());
    const { actual, expected } = expectedSamples(text, {
      's3o_write_failover_total{operation="PutObject",failed_backend="b1",success_backend="b2"}': 2,
      's3o_requests_total{method="DELETE",status_code="204"}': 1,
      [`s3o_build_info{version="${packageJson.version}"}`]: 1,
    });
    expect(actual).toEqual(expected);
    expect(BUILD_VERSION).toBe(packageJson.version);
  });
});

describe('the MetricsShard Durable Object', () => {
  it('merges two isolates exactly once per batch number, across calls', async () => {
    const shard = env.METRICS_SHARD.get(env.METRICS_SHARD.idFromName('unit-merge'));
    const key = seriesKey(REQUESTS, ['GET', '200']);
    const histogram = seriesKey(REQUEST_DURATION, ['GET']);
    const durations = new Array<number>(REQUEST_SECONDS.length + 2).fill(0);
    durations[0] = 1;
    durations[REQUEST_SECONDS.length + 1] = 0.001;
    const batch = (seq: number, n: number): MetricsBatch => ({ seq, series: { [key]: [n], [histogram]: durations } });
    expect(await shard.merge('isolate-a', [batch(1, 3)])).toBe(1);
    // The same batch again (its answer was lost), with the next one: only the next one counts.
    expect(await shard.merge('isolate-a', [batch(1, 3), batch(2, 4)])).toBe(2);
    expect(await shard.merge('isolate-b', [batch(1, 10)])).toBe(1);
    expect(await shard.merge('isolate-b', [batch(1, 10)])).toBe(1);
    const totals = await shard.totals();
    expect(totals[key]).toEqual([17]);
    expect(totals[histogram]?.[0]).toBe(3);
    expect(totals[seriesKey(RESPONSE_SIZE, ['GET'])]).toBeUndefined();
    // The first call starts the Durable Object, which takes seconds on a busy machine.
  }, 60_000);
});
