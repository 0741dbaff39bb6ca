/**
 * Load shedding at the database, per isolate: at most `inFlight` database calls at once (a statement, a batch or a
 * whole transaction), at most `queue` more waiting for a turn, each for at most `waitMs`. A call beyond that is
 * refused at once with DatabaseBusyError, which a client sees as `503 SlowDown` with Retry-After: an overloaded
 * orchestrator answers fast and tells clients to back off instead of queueing without bound until requests time out.
 * Plain counters and promises: nothing here holds an I/O object, so one gate serves every request of the isolate.
 */
export interface GateLimits {
  inFlight: number;
  queue: number;
  waitMs: number;
}

export class DatabaseBusyError extends Error {
  readonly why: 'queue-full' | 'waited-too-long';
  constructor(why: 'queue-full' | 'waited-too-long') {
    super(why === 'queue-full' ? 'too many database calls are waiting in this isolate' : 'a database call waited too long for its turn');
    this.name = 'DatabaseBusyError';
    this.why = why;
  }
}

export interface DatabaseGate {
  /** Takes a slot, or waits in the queue for one; rejects with DatabaseBusyError. Every slot taken is released once. */
  acquire(limits: GateLimits): Promise<void>;
  release(): void;
  run<T>(limits: GateLimits, work: () => Promise<T>): Promise<T>;
  /** Calls running and waiting now, and refused so far (for tests and metrics). */
  state(): { running: number; waiting: number; refused: number };
}

export function createDatabaseGate(): DatabaseGate {
  let running = 0;
  let refused = 0;
  const waiting: { admit: () => void }[] = [];
  /** The limits the latest call came with: a reload applies to the queue at once. */
  let latest: GateLimits | undefined;

  const release = (): void => {
    running--;
    // A lowered limit lets the queue move only once the calls above it finished.
    while (latest && running < latest.inFlight && waiting.length > 0) {
      running++;
      waiting.shift()!.admit();
    }
  };

  const turn = (limits: GateLimits): Promise<void> => {
    if (running < limits.inFlight && waiting.length === 0) {
      running++;
      return Promise.resolve();
    }
    if (waiting.length >= limits.queue) {
      refused++;
      return Promise.reject(new DatabaseBusyError('queue-full'));
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        admit: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        const at = waiting.indexOf(entry);
        if (at < 0) return;
        waiting.splice(at, 1);
        refused++;
        reject(new DatabaseBusyError('waited-too-long'));
      }, limits.waitMs);
      waiting.push(entry);
    });
  };

  const acquire = (limits: GateLimits): Promise<void> => {
    latest = limits;
    return turn(limits);
  };
  return {
    acquire,
    release,
    async run(limits, work) {
      await acquire(limits);
      try {
        return await work();
      } finally {
        release();
      }
    },
    state: () => ({ running, waiting: waiting.length, refused }),
  };
}

/**
 * One request's door to the gate. A request holds at most one slot, from its first database call until none of its
 * calls is running: its other calls meanwhile (a statement inside its own transaction, reads it runs side by side)
 * ride on that slot. Without this a request could wait for a slot it holds itself, or shed its own parallel reads.
 */
export function requestAdmission(gate: DatabaseGate, limits: () => GateLimits): <T>(work: () => Promise<T>) => Promise<T> {
  let ticket: Promise<void> | undefined;
  let calls = 0;
  return async (work) => {
    if (calls === 0) ticket = gate.acquire(limits());
    const held = ticket!;
    calls++;
    try {
      await held;
      return await work();
    } finally {
      calls--;
      // The last call out gives the slot back, if it was granted; a refused ticket holds nothing.
      if (calls === 0) {
        ticket = undefined;
        held.then(() => gate.release(), () => {});
      }
    }
  };
}

/** The gate's refusal, however deeply wrapped (drizzle wraps a failed query's error as its cause). */
export function databaseBusy(err: unknown): DatabaseBusyError | undefined {
  for (let current: unknown = err, depth = 0; current instanceof Error && depth < 5; depth++) {
    if (current instanceof DatabaseBusyError) return current;
    current = current.cause;
  }
  return undefined;
}
