/**
 * Reports that add up: an isolate sends what is pending, one send at a time and at most one per REPORT_SPACING_MS,
 * and whatever comes meanwhile goes together in the next send. Usage reports to a backend's Durable Object and
 * fleet counter adds both go this way, so a busy isolate makes a few calls a second, not one per request.
 */

/** After a send, the next waits at least this long. */
export const REPORT_SPACING_MS = 250;

export interface SpacedSendDeps {
  /** Keeps the sends going after the request that started them has answered. */
  waitUntil(promise: Promise<unknown>): void;
  /** Waits `ms` (between sends). */
  sleep(ms: number): Promise<void>;
}

/**
 * Starts sending `key`'s reports unless that is under way (`active` holds the keys being sent): takes what is
 * pending, sends it, waits REPORT_SPACING_MS, and goes on while `take` finds more. `send` handles its own failures.
 */
export function sendSpaced<T>(active: Set<string>, key: string, deps: SpacedSendDeps, take: () => T | undefined, send: (report: T) => Promise<void>): void {
  if (active.has(key)) return;
  active.add(key);
  const rounds = async () => {
    for (let report = take(); report !== undefined; report = take()) {
      await send(report);
      await deps.sleep(REPORT_SPACING_MS);
    }
  };
  deps.waitUntil(rounds().finally(() => active.delete(key)));
}
