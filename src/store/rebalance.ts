/**
 * A rebalance's queries: each backend's smallest copies (with the backends holding their other copies) to plan
 * from, and the compare-and-swap of a batch of moves.
 */
import { asc, eq, inArray, sql } from 'drizzle-orm';
import { type Db, type Queryable, textTuples } from './db.ts';
import { type DrainCandidate, type MoveOutcome, otherBackendsThan } from './drain.ts';
import { type QuotaChange, applyQuotaChanges } from './quotas.ts';
import { cleanupQueue, objectLocations, type ObjectLocationRow } from './schema.ts';

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

export interface CopyMove {
  copy: Pick<ObjectLocationRow, 'bucket' | 'key' | 'backendName' | 'physicalKey' | 'storedSize' | 'encryption'>;
  to: string;
  /** The cleanup item that held the copied bytes until they were recorded, dropped with the swap. */
  queuedAhead: number;
}

/**
 * moveCopy (src/store/drain.ts) for a batch of copies whose bytes are already on their targets, in one
 * transaction: the keys are locked in one order, every record checked, and the moves that still apply swapped with
 * one quota change per backend. Answers each move's outcome; throws NoRoomForBatch (nothing changed) when a
 * target cannot take its share, so the caller can swap them one by one.
 */
export async function moveCopies(db: Db, moves: readonly CopyMove[]): Promise<MoveOutcome[]> {
  if (moves.length === 0) return [];
  return db.transaction(async (tx) => {
    // In lock-id order: two batches can never wait on each other's keys.
    const objects = textTuples(['b', 'k'], moves.map((m) => [m.copy.bucket, m.copy.key]));
    await tx.execute(sql`select pg_advisory_xact_lock(h) from (select distinct hashtextextended(b || '/' || k, 0) as h from (${objects}) o order by h) locks`);
    const rows = await tx
      .select({ bucket: objectLocations.bucket, key: objectLocations.key, backendName: objectLocations.backendName, physicalKey: objectLocations.physicalKey, createdAt: objectLocations.createdAt })
      .from(objectLocations)
      .where(sql`(${objectLocations.bucket}, ${objectLocations.key}) in (${objects})`);
    const rowOf = (bucket: string, key: string, backendName: string) => rows.find((r) => r.bucket === bucket && r.key === key && r.backendName === backendName);
    const claimed = new Set<string>();
    const outcomes = moves.map((m): MoveOutcome => {
      const target = rowOf(m.copy.bucket, m.copy.key, m.to);
      if (target) return target.physicalKey === m.copy.physicalKey ? 'target-holds-it' : 'gone';
      const source = rowOf(m.copy.bucket, m.copy.key, m.copy.backendName);
      const slot = `${m.copy.bucket}\n${m.copy.key}\n${m.to}`;
      // Two copies of one object sent to the same target: the first one there wins.
      if (!source || source.physicalKey !== m.copy.physicalKey || claimed.has(slot)) return 'gone';
      claimed.add(slot);
      return 'moved';
    });
    const moving = moves.filter((_, i) => outcomes[i] === 'moved');
    if (moving.length === 0) return outcomes;
    const copies = textTuples(['b', 'k', 'n', 'p'], moving.map((m) => [m.copy.bucket, m.copy.key, m.copy.backendName, m.copy.physicalKey]));
    await tx
      .delete(objectLocations)
      .where(sql`(${objectLocations.bucket}, ${objectLocations.key}, ${objectLocations.backendName}, ${objectLocations.physicalKey}) in (${copies})`);
    const taken = await tx
      .delete(cleanupQueue)
      .where(inArray(cleanupQueue.id, moving.map((m) => m.queuedAhead)))
      .returning({ backendName: cleanupQueue.backendName, size: cleanupQueue.size });
    const changes = new Map<string, QuotaChange>();
    const change = (backendName: string) => changes.get(backendName) ?? changes.set(backendName, { backendName }).get(backendName)!;
    for (const m of moving) {
      const source = change(m.copy.backendName);
      source.release = (source.release ?? 0) + m.copy.storedSize;
      const target = change(m.to);
      target.reserve = (target.reserve ?? 0) + m.copy.storedSize;
    }
    for (const t of taken) {
      const target = change(t.backendName);
      target.releaseOrphan = (target.releaseOrphan ?? 0) + t.size;
    }
    if (!(await applyQuotaChanges(tx, [...changes.values()]))) throw new NoRoomForBatch();
    await tx.insert(objectLocations).values(
      moving.map((m) => ({
        bucket: m.copy.bucket,
        key: m.copy.key,
        backendName: m.to,
        physicalKey: m.copy.physicalKey,
        storedSize: m.copy.storedSize,
        encryption: m.copy.encryption,
        // The copy keeps its age, so read order (oldest copy first) does not change with a move.
        createdAt: rowOf(m.copy.bucket, m.copy.key, m.copy.backendName)?.createdAt ?? sql`now()`,
      })),
    );
    return outcomes;
  });
}

/** A target could not take its share of a batch of moves; the transaction rolled back. */
export class NoRoomForBatch extends Error {}
