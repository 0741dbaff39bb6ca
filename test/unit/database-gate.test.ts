/** The isolate's database gate (load shedding): limits, the queue, refusals, and reloaded limits. */
import { describe, expect, it } from 'vitest';
import { DatabaseBusyError, createDatabaseGate, databaseBusy, requestAdmission } from '../../src/store/database-gate.ts';

/** A call that runs until released. */
function held(): { work: () => Promise<string>; release: () => void; started: Promise<void> } {
  let release!: () => void;
  let started!: () => void;
  const startedPromise = new Promise<void>((resolve) => (started = resolve));
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    work: async () => {
      started();
      await done;
      return 'done';
    },
    release,
    started: startedPromise,
  };
}

describe('database gate', () => {
  it('runs at most inFlight calls, queues up to queue more in order, and refuses beyond at once', async () => {
    const gate = createDatabaseGate();
    const limits = { inFlight: 2, queue: 1, waitMs: 60_000 };
    const a = held();
    const b = held();
    const c = held();
    const runA = gate.run(limits, a.work);
    const runB = gate.run(limits, b.work);
    const runC = gate.run(limits, c.work);
    await Promise.all([a.started, b.started]);
    expect(gate.state()).toEqual({ running: 2, waiting: 1, refused: 0 });
    const refused = await gate.run(limits, async () => 'never').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(DatabaseBusyError);
    expect((refused as DatabaseBusyError).why).toBe('queue-full');
    a.release();
    await c.started;
    expect(gate.state()).toEqual({ running: 2, waiting: 0, refused: 1 });
    b.release();
    c.release();
    expect(await Promise.all([runA, runB, runC])).toEqual(['done', 'done', 'done']);
    expect(gate.state()).toEqual({ running: 0, waiting: 0, refused: 1 });
  });

  it('refuses a call that waited longer than waitMs, and a failing call frees its slot', async () => {
    const gate = createDatabaseGate();
    const limits = { inFlight: 1, queue: 5, waitMs: 10 };
    const a = held();
    const runA = gate.run(limits, a.work);
    await a.started;
    // Refused however long the machine takes: the slot stays taken until after the refusal.
    const late = await gate.run(limits, async () => 'never').catch((err: unknown) => err);
    expect((late as DatabaseBusyError).why).toBe('waited-too-long');
    a.release();
    await runA;
    await expect(gate.run(limits, () => Promise.reject(new Error('query failed')))).rejects.toThrow('query failed');
    expect(await gate.run(limits, async () => 'next')).toBe('next');
    expect(gate.state()).toEqual({ running: 0, waiting: 0, refused: 1 });
  });

  it('a queue of 0 sheds every call while the slots are taken; a lowered limit is kept as calls finish', async () => {
    const gate = createDatabaseGate();
    const a = held();
    const b = held();
    const runA = gate.run({ inFlight: 2, queue: 0, waitMs: 1000 }, a.work);
    const runB = gate.run({ inFlight: 2, queue: 0, waitMs: 1000 }, b.work);
    await Promise.all([a.started, b.started]);
    await expect(gate.run({ inFlight: 2, queue: 0, waitMs: 1000 }, async () => 'x')).rejects.toBeInstanceOf(DatabaseBusyError);
    // Reloaded to one slot: nothing new runs until both are done.
    const c = held();
    const runC = gate.run({ inFlight: 1, queue: 1, waitMs: 60_000 }, c.work);
    a.release();
    await runA;
    expect(gate.state().waiting).toBe(1);
    b.release();
    await runB;
    await c.started;
    c.release();
    expect(await runC).toBe('done');
  });

  it('finds its refusal however deeply it is wrapped', () => {
    const busy = new DatabaseBusyError('queue-full');
    expect(databaseBusy(new Error('Failed query', { cause: new Error('wrapped', { cause: busy }) }))).toBe(busy);
    expect(databaseBusy(new Error('other'))).toBeUndefined();
    expect(databaseBusy('text')).toBeUndefined();
  });
});

describe('a request at the gate', () => {
  it('holds one slot for all its calls, nested or side by side, so it never waits for itself', async () => {
    const gate = createDatabaseGate();
    const limits = { inFlight: 1, queue: 0, waitMs: 60_000 };
    const admit = requestAdmission(gate, () => limits);
    // Three reads side by side, one of them running a statement inside itself (as a transaction's callback may).
    const results = await Promise.all([
      admit(async () => 'a'),
      admit(async () => `b${await admit(async () => '-nested')}`),
      admit(async () => 'c'),
    ]);
    expect(results).toEqual(['a', 'b-nested', 'c']);
    expect(gate.state()).toEqual({ running: 0, waiting: 0, refused: 0 });
  });

  it('another request finds the slot taken and is shed; the slot comes back when the first request\'s calls end', async () => {
    const gate = createDatabaseGate();
    const limits = { inFlight: 1, queue: 0, waitMs: 60_000 };
    const first = requestAdmission(gate, () => limits);
    const second = requestAdmission(gate, () => limits);
    const a = held();
    const running = first(a.work);
    await a.started;
    const shed = await second(async () => 'never').catch((err: unknown) => err);
    expect(shed).toBeInstanceOf(DatabaseBusyError);
    a.release();
    expect(await running).toBe('done');
    // A refused request holds nothing and may try again.
    expect(await second(async () => 'again')).toBe('again');
    expect(gate.state()).toEqual({ running: 0, waiting: 0, refused: 1 });
  });
});
