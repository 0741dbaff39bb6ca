/**
 * One isolate's part in a trace snapshot: whether a request is sampled, and getting the samples to the fleet's
 * trace collector (trace-collector.ts) off the request's path.
 *
 * The window is cached per isolate and re-read at most every WINDOW_REFRESH_MS, through waitUntil: a request never
 * waits for the collector, and with no window open an isolate makes one small call per WINDOW_REFRESH_MS at most.
 * So an isolate starts sampling within WINDOW_REFRESH_MS of its first request after a window opens (the isolate
 * that opened it, at once). Each request of an open window is sampled when `Math.random() < sample`.
 *
 * Samples are sent at once, but while one send is on its way the next ones wait and go together (at most
 * MAX_BATCH per call): one call at a time per isolate, whatever the load. At most MAX_PENDING wait; beyond that
 * they are dropped and the collector is told how many. A send that fails loses its batch (a snapshot is a sample).
 */
import type { TraceCollectorRpc, TraceWindow } from './trace-collector.ts';
import type { TraceSample } from './trace-summary.ts';

export const WINDOW_REFRESH_MS = 5_000;
export const MAX_PENDING = 1_000;
export const MAX_BATCH = 100;

export interface TraceSamplerDeps {
  collector(): TraceCollectorRpc;
  waitUntil(promise: Promise<unknown>): void;
}

export interface TraceSampler {
  /** The id of the open window this request is sampled into, or undefined; re-reads the window when due. */
  sampleInto(now: number, deps: TraceSamplerDeps): string | undefined;
  /** A window this isolate learnt of first-hand (it opened it): sampling follows at once. */
  learn(window: TraceWindow | null, now: number): void;
  /** Queues a sample of window `windowId` and sends what waits, unless a send is already on its way. */
  record(windowId: string, sample: TraceSample, deps: TraceSamplerDeps): void;
}

interface KnownWindow {
  id: string;
  startsAt: number;
  endsAt: number;
  sample: number;
}

export function createTraceSampler(random: () => number = Math.random): TraceSampler {
  let known: KnownWindow | undefined;
  let checkedAt: number | undefined;
  let refreshing = false;
  let pending: { windowId: string; samples: TraceSample[]; dropped: number } | undefined;
  let sending = false;

  const learn = (window: TraceWindow | null, now: number) => {
    known = window ? { id: window.id, startsAt: Date.parse(window.started_at), endsAt: Date.parse(window.ends_at), sample: window.sample } : undefined;
    checkedAt = now;
  };

  const refresh = (now: number, deps: TraceSamplerDeps) => {
    if (refreshing || (checkedAt !== undefined && now - checkedAt < WINDOW_REFRESH_MS)) return;
    refreshing = true;
    // Counted from the attempt: an unreachable collector is asked again only after the same period.
    checkedAt = now;
    const read = deps
      .collector()
      .window()
      .then((window) => learn(window, now))
      .catch(() => undefined)
      .finally(() => (refreshing = false));
    deps.waitUntil(read);
  };

  const sendPending = async (deps: TraceSamplerDeps) => {
    while (pending && (pending.samples.length > 0 || pending.dropped > 0)) {
      const { windowId } = pending;
      const batch = pending.samples.splice(0, MAX_BATCH);
      const dropped = pending.dropped;
      pending.dropped = 0;
      await deps.collector().add(windowId, batch, dropped);
    }
  };

  return {
    sampleInto(now, deps) {
      refresh(now, deps);
      if (!known || now < known.startsAt || now >= known.endsAt) return undefined;
      return random() < known.sample ? known.id : undefined;
    },
    learn,
    record(windowId, sample, deps) {
      // Samples of an earlier window still waiting are dropped: the collector would ignore them.
      if (pending?.windowId !== windowId) pending = { windowId, samples: [], dropped: 0 };
      if (pending.samples.length < MAX_PENDING) pending.samples.push(sample);
      else pending.dropped += 1;
      if (sending) return;
      sending = true;
      deps.waitUntil(
        sendPending(deps)
          .catch(() => undefined)
          .finally(() => (sending = false)),
      );
    },
  };
}
