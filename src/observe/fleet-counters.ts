/**
 * Fleet-wide event totals for /metrics that no single isolate could count (rate-limit and usage-limit refusals,
 * cleanup outcomes): kept by one Durable Object (workers/fleet-counters.ts) under the storage key `counters`.
 * Names are "<metric>" or "<metric>:<label value>".
 */
export interface FleetCountersRpc {
  increment(counter: string, by: number): Promise<void>;
  counters(): Promise<Record<string, number>>;
}

/** What services offer: adding never waits on the Durable Object (and a lost add only undercounts). */
export interface EventCounters {
  add(counter: string, by?: number): void;
  read(): Promise<Record<string, number>>;
}

export function eventCounters(rpc: () => FleetCountersRpc, waitUntil: (promise: Promise<unknown>) => void): EventCounters {
  return {
    add: (counter, by = 1) => waitUntil(rpc().increment(counter, by).catch(() => {})),
    read: () => rpc().counters().catch((): Record<string, number> => ({})),
  };
}
