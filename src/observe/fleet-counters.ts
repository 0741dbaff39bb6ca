/**
 * Fleet-wide event totals for /metrics that no single isolate could count (rate-limit and usage-limit refusals,
 * cleanup outcomes, audit events): kept by one Durable Object (workers/fleet-counters.ts) under the storage key
 * `counters`. Names are "<metric>" or "<metric>:<label value>".
 */
import { type SpacedSendDeps, sendSpaced } from '../util/spaced-sends.ts';

export interface FleetCountersRpc {
  /** Adds each delta to its counter, in one storage write. */
  add(deltas: Record<string, number>): Promise<void>;
  counters(): Promise<Record<string, number>>;
}

/** What services offer: adding never waits on the Durable Object (and a lost add only undercounts). */
export interface EventCounters {
  add(counter: string, by?: number): void;
  /** The fleet's totals, after this isolate's own pending adds were sent. */
  read(): Promise<Record<string, number>>;
}

/**
 * What an isolate keeps between requests: adds not sent yet, and whether they are being sent. Sends are spaced
 * (src/util/spaced-sends.ts): the adds that arrive meanwhile go together in the next call, so a busy isolate makes a
 * few calls a second to the object, not one per event. (A request never waits on a send: it only leaves its adds.)
 */
export interface CounterBuffer {
  pending: Map<string, number>;
  sending: Set<string>;
}

export function createCounterBuffer(): CounterBuffer {
  return { pending: new Map(), sending: new Set() };
}

/** The pending adds, taken out of the buffer. */
function takePending(buffer: CounterBuffer): Record<string, number> | undefined {
  if (buffer.pending.size === 0) return undefined;
  const deltas = Object.fromEntries(buffer.pending);
  buffer.pending.clear();
  return deltas;
}

export function eventCounters(rpc: () => FleetCountersRpc, deps: SpacedSendDeps, buffer: CounterBuffer = createCounterBuffer()): EventCounters {
  // A send that fails is dropped (the totals undercount by it), never retried in a loop.
  const sendNow = (deltas: Record<string, number>) =>
    rpc()
      .add(deltas)
      .catch(() => {});
  return {
    add(counter, by = 1) {
      buffer.pending.set(counter, (buffer.pending.get(counter) ?? 0) + by);
      sendSpaced(buffer.sending, 'counters', deps, () => takePending(buffer), sendNow);
    },
    async read() {
      const deltas = takePending(buffer);
      if (deltas) await sendNow(deltas);
      return rpc()
        .counters()
        .catch((): Record<string, number> => ({}));
    },
  };
}
