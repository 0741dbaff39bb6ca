/**
 * The isolate's side of the fleet counters: adds are sent one call at a time, the adds that arrive meanwhile go
 * together in the next call, a read sends this isolate's pending adds first, and a failed call only loses its own.
 * The Durable Object is an in-memory stand-in here (workers/fleet-counters.ts adds a call's deltas in one write).
 */
import { describe, expect, it } from 'vitest';
import { type FleetCountersRpc, createCounterBuffer, eventCounters } from '../../src/observe/fleet-counters.ts';

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
    const counters = eventCounters(() => object.rpc, (p) => void waits.push(p), createCounterBuffer());
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
    const a = eventCounters(() => object.rpc, (p) => void waits.push(p), buffer);
    const b = eventCounters(() => object.rpc, (p) => void waits.push(p), buffer);
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
    const counters = eventCounters(() => object.rpc, (p) => void waits.push(p), createCounterBuffer());
    object.failNextCall();
    counters.add('lost');
    await Promise.all(waits);
    counters.add('kept');
    await Promise.all(waits);
    expect(object.totals).toEqual({ kept: 1 });
  });
});
