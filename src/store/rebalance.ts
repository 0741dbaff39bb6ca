/**
 * A rebalance's plan query: each backend's smallest copies, with the backends holding their other copies (the
 * moves themselves are in moves.ts).
 */
import { asc, eq } from 'drizzle-orm';
import type { Queryable } from './db.ts';
import { type DrainCandidate, otherBackendsThan } from './drain.ts';
import { objectLocations } from './schema.ts';

export type RebalanceCandidate = DrainCandidate;

/** Up to `limit` copies on the backend, smallest first (ties in key order, so a plan is repeatable). */
export async function smallestCopiesOn(db: Queryable, backendName: string, limit: number): Promise<RebalanceCandidate[]> {
  const rows = await db
    .select({ location: objectLocations, otherBackends: otherBackendsThan(backendName) })
    .from(objectLocations)
    .where(eq(objectLocations.backendName, backendName))
    .orderBy(asc(objectLocations.storedSize), asc(objectLocations.bucket), asc(objectLocations.key))
    .limit(limit);
  return rows.map((r) => ({ ...r.location, otherBackends: r.otherBackends }));
}
