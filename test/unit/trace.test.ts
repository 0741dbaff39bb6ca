/**
 * Trace snapshots from one request's phases to the report: accumulation and the Server-Timing value, the percentile
 * summary, the collector's window and bounds (in memory and in the real Durable Object, which runs here in
 * workerd), and an isolate's sampler (its cached window, the sampling draw, batching and its bound). No clock is
 * real: every "now" is a number the test passes.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { createRequestTiming, serverTimingValue, wantsServerTiming } from '../../src/observe/request-timing.ts';
import { MAX_TRACE_SAMPLES, type TraceCollectorRpc, memoryTraceCollector } from '../../src/observe/trace-collector.ts';
import { MAX_BATCH, MAX_PENDING, WINDOW_REFRESH_MS, createTraceSampler } from '../../src/observe/trace-sampler.ts';
import { type TraceSample, percentile, slowestSamples, summarise } from '../../src/observe/trace-summary.ts';

const sample = (operation: string, phases: TraceSample['phases'], id = operation): TraceSample => ({
  request_id: id,
  operation,
  status: 200,
  time: '2026-01-01T00:00:00.000Z',
  phases,
});

describe('a request timer', () => {
  it('adds up each phase however often it is met, also when the work throws, and sets total from its start', async () => {
    let now = 1000;
    const timing = createRequestTiming(() => now);
    const step = (ms: number) => async () => void (now += ms);
    await timing.time('metadata', step(3));
    await timing.time('backend', step(10));
    await timing.time('metadata', step(2));
    await expect(
      timing.time('commit', async () => {
        now += 4;
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    await timing.time('auth', async () => undefined);
    timing.add('cleanup', -5);
    timing.finish();
    expect(timing.phases()).toEqual({ metadata: 5, backend: 10, commit: 4, auth: 0, cleanup: 0, total: 19 });
    expect(timing.startedAt).toBe(1000);
    expect(timing.operation).toBe('unknown');
  });

  it('renders Server-Timing in phase order with tenths of a millisecond, naming only the phases met', () => {
    expect(serverTimingValue({ total: 20.04, backend: 12.345, auth: 0.25, metadata: 3 })).toBe('auth;dur=0.3, metadata;dur=3, backend;dur=12.3, total;dur=20');
    expect(serverTimingValue({})).toBe('');
  });

  it('counts the database round trips and reports them after the phases, only when there were any', () => {
    const timing = createRequestTiming(() => 0);
    expect(serverTimingValue({ total: 1 }, timing.database())).toBe('total;dur=1');
    timing.countDatabase('connect');
    for (let i = 0; i < 3; i++) timing.countDatabase('statement');
    expect(timing.database()).toEqual({ connects: 1, statements: 3 });
    expect(serverTimingValue({ total: 1 }, timing.database())).toBe('total;dur=1, db;desc="statements=3 connects=1"');
    expect(serverTimingValue({ total: 1 }, timing.database(), 'hit')).toBe('total;dur=1, db;desc="statements=3 connects=1", cache;desc="hit"');
  });

  it('is asked for with X-S3O-Trace (any value but 0)', () => {
    expect(wantsServerTiming(new Headers({ 'x-s3o-trace': '1' }))).toBe(true);
    expect(wantsServerTiming(new Headers({ 'X-S3O-Trace': 'yes' }))).toBe(true);
    expect(wantsServerTiming(new Headers({ 'x-s3o-trace': '0' }))).toBe(false);
    expect(wantsServerTiming(new Headers({ 'x-s3o-trace': '' }))).toBe(false);
    expect(wantsServerTiming(new Headers())).toBe(false);
  });
});

describe('the summary', () => {
  it('takes nearest-rank percentiles', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(hundred, 50), percentile(hundred, 95), percentile(hundred, 99), percentile(hundred, 100)]).toEqual([50, 95, 99, 100]);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBe(0);
  });

  it('groups by operation, counts each phase over the samples that met it, and lists the slowest by total', () => {
    const samples = [
      ...Array.from({ length: 20 }, (_, i) => sample('PutObject', { auth: 1, metadata: i + 1, backend: 10, commit: 2, total: 20 + i }, `put-${i}`)),
      sample('GetObject', { auth: 1, backend: 5, total: 6 }, 'get-0'),
      sample('GetObject', { auth: 3, metadata: 4, backend: 7, total: 100 }, 'get-1'),
    ];
    const [get, put] = summarise(samples);
    expect(get).toEqual({
      operation: 'GetObject',
      count: 2,
      phases: {
        auth: { count: 2, p50: 1, p95: 3, p99: 3, max: 3 },
        metadata: { count: 1, p50: 4, p95: 4, p99: 4, max: 4 },
        backend: { count: 2, p50: 5, p95: 7, p99: 7, max: 7 },
        total: { count: 2, p50: 6, p95: 100, p99: 100, max: 100 },
      },
    });
    expect(put?.count).toBe(20);
    expect(Object.keys(put?.phases ?? {})).toEqual(['auth', 'metadata', 'backend', 'commit', 'total']);
    expect(put?.phases.metadata).toEqual({ count: 20, p50: 10, p95: 19, p99: 20, max: 20 });
    const slowest = slowestSamples(samples);
    expect(slowest.map((s) => s.request_id)).toEqual(['get-1', 'put-19', 'put-18', 'put-17', 'put-16', 'put-15', 'put-14', 'put-13', 'put-12', 'put-11']);
  });
});

/** The collector's behaviour, the same in memory and in the Durable Object. */
async function expectCollectorRules(collector: TraceCollectorRpc, now: () => number) {
  expect(await collector.window()).toBeNull();
  expect(await collector.report()).toEqual({ window: null, samples: 0, dropped: 0, operations: [], slowest: [] });
  const first = await collector.start(30, 0.5);
  expect(first).toMatchObject({ duration_seconds: 30, sample: 0.5 });
  expect(Date.parse(first.ends_at) - Date.parse(first.started_at)).toBe(30_000);
  expect(Date.parse(first.started_at)).toBe(now());
  await collector.add(first.id, [sample('PutObject', { auth: 1, total: 2 })], 3);
  await collector.add('another-window', [sample('GetObject', { total: 1 })], 5);
  const report = await collector.report();
  expect(report).toMatchObject({ window: { ...first, open: true }, samples: 1, dropped: 3, operations: [{ operation: 'PutObject', count: 1 }] });

  // A new window replaces the earlier one and its samples; the earlier one's late samples are ignored.
  const second = await collector.start(5, 1);
  expect(second.id).not.toBe(first.id);
  await collector.add(first.id, [sample('PutObject', { total: 2 })], 0);
  expect(await collector.window()).toEqual(second);
  expect(await collector.report()).toMatchObject({ window: { id: second.id }, samples: 0, dropped: 0, operations: [], slowest: [] });

  // Bounded: at most MAX_TRACE_SAMPLES kept, the rest counted as dropped.
  const batch = Array.from({ length: 1000 }, (_, i) => sample(i % 2 ? 'GetObject' : 'PutObject', { auth: 1, total: i }, `r-${i}`));
  for (let i = 0; i < MAX_TRACE_SAMPLES / batch.length + 1; i++) await collector.add(second.id, batch, 0);
  const full = await collector.report();
  expect([full.samples, full.dropped]).toEqual([MAX_TRACE_SAMPLES, batch.length]);
  expect(full.operations.map((o) => o.count)).toEqual([MAX_TRACE_SAMPLES / 2, MAX_TRACE_SAMPLES / 2]);
  expect(full.slowest).toHaveLength(10);
  expect(full.slowest[0]?.phases.total).toBe(999);
}

describe('the trace collector', () => {
  it('keeps one window at a time and at most MAX_TRACE_SAMPLES of its samples (in memory)', async () => {
    let now = Date.parse('2026-05-01T10:00:00Z');
    const collector = memoryTraceCollector(() => now);
    await expectCollectorRules(collector, () => now);
    now += 6_000;
    expect((await collector.report()).window?.open).toBe(false);
  });

  it('does the same in the Durable Object', async () => {
    const collector = env.TRACE_COLLECTOR.get(env.TRACE_COLLECTOR.idFromName('unit-trace'));
    const before = Date.now();
    const window = await collector.start(60, 1);
    expect(Date.parse(window.started_at)).toBeGreaterThanOrEqual(before - 1000);
    await collector.add(window.id, [sample('PutObject', { auth: 1, backend: 2, total: 3 }), sample('GetObject', { total: 1 })], 2);
    expect(await collector.report()).toMatchObject({ window: { id: window.id, open: true }, samples: 2, dropped: 2 });
    const replaced = await collector.start(1, 0.5);
    expect(await collector.report()).toMatchObject({ window: { id: replaced.id }, samples: 0, dropped: 0 });
  }, 60_000);
});

/** A sampler's collector that records what it was asked, answering `window` from a variable. */
function fakeCollector(startWindow: () => Promise<Awaited<ReturnType<TraceCollectorRpc['window']>>>) {
  const calls = { window: 0, adds: [] as { windowId: string; samples: number; dropped: number }[] };
  const waiting: Promise<unknown>[] = [];
  const collector: TraceCollectorRpc = {
    start: () => Promise.reject(new Error('not used')),
    window: () => {
      calls.window += 1;
      return startWindow();
    },
    add: async (windowId, samples, dropped) => void calls.adds.push({ windowId, samples: samples.length, dropped }),
    report: () => Promise.reject(new Error('not used')),
  };
  const deps = { collector: () => collector, waitUntil: (p: Promise<unknown>) => void waiting.push(p) };
  const settle = async () => {
    while (waiting.length > 0) await waiting.shift();
  };
  return { calls, deps, settle };
}

describe("an isolate's sampler", () => {
  const window = { id: 'w1', started_at: new Date(10_000).toISOString(), ends_at: new Date(40_000).toISOString(), duration_seconds: 30, sample: 0.25 };

  it('reads the window at most every WINDOW_REFRESH_MS, off the request, and samples only inside it', async () => {
    let open: typeof window | null = null;
    const { calls, deps, settle } = fakeCollector(async () => open);
    const draws = [0.1, 0.3, 0.2, 0.9];
    const sampler = createTraceSampler(() => draws.shift() ?? 1);
    // No window known: nothing sampled, one read started.
    expect(sampler.sampleInto(0, deps)).toBeUndefined();
    expect(sampler.sampleInto(1, deps)).toBeUndefined();
    await settle();
    expect(calls.window).toBe(1);
    open = window;
    // Still cached as "none" until the refresh period has passed.
    expect(sampler.sampleInto(WINDOW_REFRESH_MS - 1, deps)).toBeUndefined();
    expect(calls.window).toBe(1);
    expect(sampler.sampleInto(WINDOW_REFRESH_MS, deps)).toBeUndefined();
    await settle();
    expect(calls.window).toBe(2);
    // Inside the window: drawn when Math.random() < sample (0.1 yes, 0.3 no, 0.2 yes, 0.9 no).
    expect([11_000, 11_001, 11_002, 11_003].map((t) => sampler.sampleInto(t, deps))).toEqual(['w1', undefined, 'w1', undefined]);
    // After its end nothing is sampled, whatever the draw.
    sampler.learn(window, 39_000);
    expect(sampler.sampleInto(40_000, deps)).toBeUndefined();
    await settle();
    expect(calls.window).toBe(3);
  });

  it('samples at once in the isolate that opened the window', () => {
    const { calls, deps } = fakeCollector(async () => null);
    const sampler = createTraceSampler(() => 0);
    sampler.learn({ ...window, sample: 1 }, 10_000);
    expect(sampler.sampleInto(10_001, deps)).toBe('w1');
    expect(calls.window).toBe(0);
  });

  it('sends one batch at a time, at most MAX_BATCH samples each, and drops beyond MAX_PENDING waiting (counted)', async () => {
    const { calls, deps, settle } = fakeCollector(async () => null);
    const sampler = createTraceSampler();
    sampler.record('w1', sample('PutObject', { total: 1 }), deps);
    // The first send is on its way: these wait, up to MAX_PENDING of them.
    for (let i = 0; i < MAX_PENDING + 5; i++) sampler.record('w1', sample('GetObject', { total: 1 }), deps);
    await settle();
    const sent = calls.adds.reduce((n, a) => n + a.samples, 0);
    expect(sent).toBe(1 + MAX_PENDING);
    expect(calls.adds.every((a) => a.samples <= MAX_BATCH && a.windowId === 'w1')).toBe(true);
    expect(calls.adds.reduce((n, a) => n + a.dropped, 0)).toBe(5);
    expect(calls.adds.length).toBe(1 + MAX_PENDING / MAX_BATCH);
  });
});
