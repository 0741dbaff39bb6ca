/**
 * The two ways a copy leaves a backend without its object changing: moved (its bytes already copied to the target,
 * the records swapped by compare-and-swap) or dropped (another copy exists elsewhere). Drains and rebalance passes
 * both go through here; a client's overwrite or delete in between always wins.
 */
import { and, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { type Db, type Queryable, textTuples } from './db.ts';
import { lockKey } from './objects.ts';
import { takeCleanupItem } from './cleanup.ts';
import { type QuotaChange, applyQuotaChanges } from './quotas.ts';
import { cleanupQueue, objectLocations, type ObjectLocationRow } from './schema.ts';

type CopyRef = Pick<ObjectLocationRow, 'bucket' | 'key' | 'backendName' | 'physicalKey'>;
type MovedCopy = Pick<ObjectLocationRow, 'bucket' | 'key' | 'backendName' | 'physicalKey' | 'storedSize' | 'encryption'>;

/** 'target-holds-it': the target already has this very copy (same physical key); its bytes are live. */
export type MoveOutcome = 'moved' | 'gone' | 'no-room' | 'target-holds-it';

export interface CopyMove {
  copy: MovedCopy;
  to: string;
  /** The cleanup item that held the copied bytes until they were recorded, dropped with the swap. */
  queuedAhead: number;
}

/** The row of exactly this copy: same object, backend and physical key (a rewrite has another physical key). */
function isThisCopy(copy: CopyRef) {
  return and(
    eq(objectLocations.bucket, copy.bucket),
    eq(objectLocations.key, copy.key),
    eq(objectLocations.backendName, copy.backendName),
    eq(objectLocations.physicalKey, copy.physicalKey),
  );
}

/** The objects' key locks, taken in lock-id order so two batches can never wait on each other's keys. */
async function lockObjects(tx: Queryable, objects: SQL): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(h) from (select distinct hashtextextended(b || '/' || k, 0) as h from (${objects}) o order by h) locks`);
}

/** Every copy row of the objects (a `textTuples(['b', 'k'], ...)` list), read under their locks. */
async function copiesOf(tx: Queryable, objects: SQL) {
  return tx
    .select({ bucket: objectLocations.bucket, key: objectLocations.key, backendName: objectLocations.backendName, physicalKey: objectLocations.physicalKey, createdAt: objectLocations.createdAt })
    .from(objectLocations)
    .where(sql`(${objectLocations.bucket}, ${objectLocations.key}) in (${objects})`);
}

/**
 * Compare-and-swap of one copy from `copy.backendName` to `to` after its bytes were copied there: only if the
 * source copy is still the same (not overwritten, deleted or moved meanwhile) and the target can take it. On
 * anything but 'moved' nothing changes and the caller removes the bytes it copied.
 */
export async function moveCopy(db: Db, copy: MovedCopy, to: string, opts: { queuedAhead?: number } = {}): Promise<MoveOutcome> {
  return db.transaction(async (tx) => {
    await lockKey(tx, copy.bucket, copy.key);
    const [target] = await tx
      .select({ physicalKey: objectLocations.physicalKey })
      .from(objectLocations)
      .where(and(eq(objectLocations.bucket, copy.bucket), eq(objectLocations.key, copy.key), eq(objectLocations.backendName, to)));
    if (target) return target.physicalKey === copy.physicalKey ? 'target-holds-it' : 'gone';
    const removed = await tx
      .delete(objectLocations)
      .where(isThisCopy(copy))
      .returning({ createdAt: objectLocations.createdAt });
    if (removed.length === 0) return 'gone';
    // The copied bytes become live: their queued-ahead delete goes, and its orphaned bytes make room for them.
    const queued = opts.queuedAhead === undefined ? undefined : await takeCleanupItem(tx, opts.queuedAhead);
    const targetChange: QuotaChange = { backendName: to, reserve: copy.storedSize };
    if (queued) targetChange.releaseOrphan = queued.size;
    if (!(await applyQuotaChanges(tx, [{ backendName: copy.backendName, release: copy.storedSize }, targetChange]))) {
      // Rolls back the delete above.
      throw new NoRoomOnTarget();
    }
    await tx.insert(objectLocations).values({
      bucket: copy.bucket,
      key: copy.key,
      backendName: to,
      physicalKey: copy.physicalKey,
      storedSize: copy.storedSize,
      encryption: copy.encryption,
      // The copy keeps its age, so read order (oldest copy first) does not change with a move.
      createdAt: removed[0]?.createdAt ?? sql`now()`,
    });
    return 'moved';
  }).catch((err: unknown) => {
    if (err instanceof NoRoomOnTarget) return 'no-room' as const;
    throw err;
  });
}

/**
 * moveCopy for a batch of copies whose bytes are already on their targets, in one transaction: the keys are locked
 * in one order, every record checked, and the moves that still apply swapped with one quota change per backend.
 * Answers each move's outcome; throws NoRoomOnTarget (nothing changed) when a target cannot take its share, so the
 * caller can swap them one by one.
 */
export async function moveCopies(db: Db, moves: readonly CopyMove[]): Promise<MoveOutcome[]> {
  if (moves.length === 0) return [];
  return db.transaction(async (tx) => {
    const objects = textTuples(['b', 'k'], moves.map((m) => [m.copy.bucket, m.copy.key]));
    await lockObjects(tx, objects);
    const rows = await copiesOf(tx, objects);
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
    if (!(await applyQuotaChanges(tx, [...changes.values()]))) throw new NoRoomOnTarget();
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

/** A target could not take its move (or its share of a batch of moves); the transaction rolled back. */
export class NoRoomOnTarget extends Error {}

/**
 * Drops copies whose objects have another copy on a different backend, in one transaction: the keys are locked in
 * one order and every copy checked again under its lock. Answers, for each copy, whether it was dropped; one that
 * is gone, was rewritten, or has become its object's only copy stays. The caller deletes the dropped copies' bytes.
 */
export async function dropCopies(db: Db, copies: readonly CopyRef[]): Promise<boolean[]> {
  if (copies.length === 0) return [];
  return db.transaction(async (tx) => {
    const objects = textTuples(['b', 'k'], copies.map((c) => [c.bucket, c.key]));
    await lockObjects(tx, objects);
    const left = await copiesOf(tx, objects);
    const sameObject = (c: CopyRef) => (r: CopyRef) => r.bucket === c.bucket && r.key === c.key;
    const dropping = copies.map((c) => {
      const rows = left.filter(sameObject(c));
      const mine = rows.find((r) => r.backendName === c.backendName && r.physicalKey === c.physicalKey);
      if (!mine || !rows.some((r) => r.backendName !== c.backendName)) return false;
      // Later copies of the same object in this batch no longer count this one as their other copy.
      left.splice(left.indexOf(mine), 1);
      return true;
    });
    const dropped = copies.filter((_, i) => dropping[i]);
    if (dropped.length === 0) return dropping;
    const removed = await tx
      .delete(objectLocations)
      .where(sql`(${objectLocations.bucket}, ${objectLocations.key}, ${objectLocations.backendName}, ${objectLocations.physicalKey}) in (${textTuples(['b', 'k', 'n', 'p'], dropped.map((c) => [c.bucket, c.key, c.backendName, c.physicalKey]))})`)
      .returning({ backendName: objectLocations.backendName, size: objectLocations.storedSize });
    const released = new Map<string, number>();
    for (const r of removed) released.set(r.backendName, (released.get(r.backendName) ?? 0) + r.size);
    await applyQuotaChanges(tx, [...released].map(([backendName, release]) => ({ backendName, release })));
    return dropping;
  });
}
