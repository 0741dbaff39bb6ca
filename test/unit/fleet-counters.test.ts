/**
 * The isolate's side of the fleet counters: adds are sent one call at a time and at most one per REPORT_SPACING_MS,
 * the adds that arrive meanwhile go together in the next call, a read sends this isolate's pending adds first, and a
 * failed call only loses its own.
 * The Durable Object is an in-memory stand-in here (workers/fleet-counters.ts adds a call's deltas in one write).
 */
import { describe, expect, it } from 'vitest';
import { type FleetCountersRpc, createCounterBuffer, eventCounters } from '../../src/observe/fleet-counters.ts';
import { REPORT_SPACING_MS, type SpacedSendDeps } from '../../src/util/spaced-sends.ts';

/** waitUntil that collects the work, and a sleep that returns at once. */
function immediate(waits: Promise<unknown>[]): SpacedSendDeps {
  return { waitUntil: (p) => void waits.push(p), sleep: async () => {} };
}

function fakeObject() {
  const totals: Record<string, number> = {};
  const calls: Record<string, number>[] = [];
  let gate: { promise: Promise<void>; open(): void } | undefined;
  let failNext = false;
  const rpc: FleetCountersRpc = {
    async add(deltas) {
      calls.push(deltas);
      if (gate) await gate.promise;
      if (failNext) {
        failNext = false;
        throw new Error('object unreachable');
      }
      for (const [name, by] of Object.entries(deltas)) totals[name] = (totals[name] ?? 0) + by;
    },
    counters: async () => ({ ...totals }),
  };
  return {
    rpc,
    totals,
    calls,
    hold() {
      let open = () => {};
      gate = { promise: new Promise<void>((resolve) => (open = resolve)), open: () => open() };
    },
    release() {
      gate?.open();
      gate = undefined;
    },
    failNextCall() {
      failNext = true;
    },
  };
}

describe('event counters', () => {
  it('sends one call at a time and adds up what arrives meanwhile into the next', async () => {
    const object = fakeObject();
    const waits: Promise<unknown>[] = [];
    const counters = eventCounters(() => object.rpc, immediate(waits), createCounterBuffer());
    object.hold();
    counters.add('audit_events:s3.PutObject');
    for (let i = 0; i < 5; i++) counters.add('audit_events:s3.PutObject');
    counters.add('audit_events:s3.DeleteObject', 2);
    expect(object.calls).toEqual([{ 'audit_events:s3.PutObject': 1 }]);
    object.release();
    await Promise.all(waits);
    expect(object.calls).toEqual([{ 'audit_events:s3.PutObject': 1 }, { 'audit_events:s3.PutObject': 5, 'audit_events:s3.DeleteObject': 2 }]);
    expect(object.totals).toEqual({ 'audit_events:s3.PutObject': 6, 'audit_events:s3.DeleteObject': 2 });
  });

  it('shares one buffer between the services of one isolate, and a read sends its pending adds first', async () => {
    const object = fakeObject();
    const buffer = createCounterBuffer();
    const waits: Promise<unknown>[] = [];
    const a = eventCounters(() => object.rpc, immediate(waits), buffer);
    const b = eventCounters(() => object.rpc, immediate(waits), buffer);
    object.hold();
    a.add('x');
    b.add('x');
    b.add('y');
    object.release();
    expect(await b.read()).toEqual({ x: 2, y: 1 });
    await Promise.all(waits);
    expect(object.totals).toEqual({ x: 2, y: 1 });
  });

  it('a failed call loses only its own adds, and the next adds are sent again', async () => {
    const object = fakeObject();
    const waits: Promise<unknown>[] = [];
    const counters = eventCounters(() => object.rpc, immediate(waits), createCounterBuffer());
    object.failNextCall();
    counters.add('lost');
    await Promise.all(waits);
    counters.add('kept');
    await Promise.all(waits);
    expect(object.totals).toEqual({ kept: 1 });
  });

  it('waits REPORT_SPACING_MS after a send; the adds of that wait go together in the next call', async () => {
    const object = fakeObject();
    const waits: Promise<unknown>[] = [];
    const sleeps: { ms: number; wake(): void }[] = [];
    const sleep = (ms: number) => new Promise<void>((resolve) => sleeps.push({ ms, wake: resolve }));
    const counters = eventCounters(() => object.rpc, { waitUntil: (p) => void waits.push(p), sleep }, createCounterBuffer());
    counters.add('a');
    while (sleeps.length === 0) await Promise.resolve();
    for (let i = 0; i < 3; i++) counters.add('a');
    counters.add('b');
    expect(object.calls).toEqual([{ a: 1 }]);
    sleeps[0]!.wake();
    while (sleeps.length === 1) await Promise.resolve();
    expect(object.calls).toEqual([{ a: 1 }, { a: 3, b: 1 }]);
    sleeps[1]!.wake();
    await Promise.all(waits);
    expect(sleeps.map((s) => s.ms)).toEqual([REPORT_SPACING_MS, REPORT_SPACING_MS]);
    expect(object.totals).toEqual({ a: 4, b: 1 });
  });
});
