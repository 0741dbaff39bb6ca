/**
 * The capacity warning's rate limit, kept in the backend's Durable Object so the whole fleet (every isolate, every
 * cron tick, twice-run ticks included) sends at most one `backend.capacity.warning` per backend per hour.
 */

export const CAPACITY_WARNING_INTERVAL_MS = 3_600_000;

/** The Durable Object's storage of when the last warning was claimed (ms since the epoch). */
export interface WarningClock {
  get(): Promise<number | undefined>;
  put(at: number): Promise<void>;
}

/** True for the one caller that may send the warning now; it is then recorded as sent at `now`. */
export async function claimCapacityWarning(clock: WarningClock, now: number): Promise<boolean> {
  const last = await clock.get();
  if (last !== undefined && now - last < CAPACITY_WARNING_INTERVAL_MS) return false;
  await clock.put(now);
  return true;
}
