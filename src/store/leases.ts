/** Leases that keep a background job from overlapping itself across isolates, with its per-job bookkeeping. */
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { Queryable } from './db.ts';
import { type JobCursor, jobLeases } from './schema.ts';

export type JobLease = typeof jobLeases.$inferSelect;

/**
 * Takes the job's lease for `ttlMs` if nobody holds a live one; returns the job's row (as it was before) or
 * undefined when another run holds it. A crashed holder's lease simply expires.
 */
export async function acquireLease(db: Queryable, name: string, holder: string, ttlMs: number, now: Date): Promise<JobLease | undefined> {
  await db.insert(jobLeases).values({ name }).onConflictDoNothing();
  const expires = new Date(now.getTime() + ttlMs);
  const [row] = await db
    .update(jobLeases)
    .set({ holder, expiresAt: expires })
    .where(and(eq(jobLeases.name, name), or(isNull(jobLeases.expiresAt), lt(jobLeases.expiresAt, now))))
    .returning();
  return row;
}

/** Ends a run: frees the lease and records what the next run needs. Only the holder's release counts. */
export async function releaseLease(
  db: Queryable,
  name: string,
  holder: string,
  outcome: {
    lastRunAt: Date;
    lastSettings: string;
    cursor: JobCursor | null;
    more: boolean;
    add: Record<string, number>;
    /** Counters that are levels (e.g. what is left to do), replaced rather than added to. */
    set?: Record<string, number>;
  },
): Promise<void> {
  await db
    .update(jobLeases)
    .set({
      holder: null,
      expiresAt: null,
      lastRunAt: outcome.lastRunAt,
      lastSettings: outcome.lastSettings,
      cursor: outcome.cursor,
      more: outcome.more,
      counters: addedCounters(outcome.add, outcome.set),
    })
    .where(and(eq(jobLeases.name, name), eq(jobLeases.holder, holder)));
}

/** Counts work done outside a leased run (e.g. an operator's over-replication --execute) in the job's totals. */
export async function addJobCounters(db: Queryable, name: string, add: Record<string, number>, set: Record<string, number> = {}): Promise<void> {
  await db.insert(jobLeases).values({ name }).onConflictDoNothing();
  await db.update(jobLeases).set({ counters: addedCounters(add, set) }).where(eq(jobLeases.name, name));
}

function addedCounters(add: Record<string, number>, set: Record<string, number> = {}) {
  const added = Object.entries(add).reduce(
    (expr, [key, value]) => sql`jsonb_set(${expr}, ${`{${key}}`}::text[], to_jsonb(coalesce((${jobLeases.counters}->>${key})::bigint, 0) + ${value}))`,
    sql`${jobLeases.counters}`,
  );
  return Object.entries(set).reduce((expr, [key, value]) => sql`jsonb_set(${expr}, ${`{${key}}`}::text[], to_jsonb(${value}::bigint))`, added);
}

export async function readLease(db: Queryable, name: string): Promise<JobLease | undefined> {
  const [row] = await db.select().from(jobLeases).where(eq(jobLeases.name, name));
  return row;
}

/** Gives the lease back without recording a run (the job was not due). */
export async function freeLease(db: Queryable, name: string, holder: string): Promise<void> {
  await db.update(jobLeases).set({ holder: null, expiresAt: null }).where(and(eq(jobLeases.name, name), eq(jobLeases.holder, holder)));
}

/**
 * Remembers a position for part of a job's work (e.g. one lifecycle rule) in a row of its own, written only by the
 * holder of the job's lease: where the next batch starts, and whether work was left.
 */
export async function savePosition(db: Queryable, name: string, position: { cursor: { bucket: string; key: string } | null; more: boolean }): Promise<void> {
  await db
    .insert(jobLeases)
    .values({ name, cursor: position.cursor, more: position.more })
    .onConflictDoUpdate({ target: jobLeases.name, set: { cursor: position.cursor, more: position.more } });
}
