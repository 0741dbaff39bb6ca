/** The replicator's and the over-replication cleaner's queries. Every change is checked again under the key's lock. */
import { and, asc, eq, gt, or, sql } from 'drizzle-orm';
import type { Db, Queryable } from './db.ts';
import { lockKey, type PhysicalCopy } from './objects.ts';
import { applyQuotaChanges } from './quotas.ts';
import { objectLocations, type ObjectLocationRow } from './schema.ts';

export interface ObjectCopies {
  bucket: string;
  key: string;
  copies: ObjectLocationRow[];
}

/** Objects with fewer than `factor` copies (counting only copies on `counted` backends), after `after`, in key order. */
export async function underReplicated(
  db: Queryable,
  factor: number,
  counted: readonly string[],
  after: { bucket: string; key: string } | undefined,
  limit: number,
): Promise<ObjectCopies[]> {
  return objectsByCopyCount(db, sql`count(*) filter (where ${objectLocations.backendName} in ${counted.length ? counted : ['']}) < ${factor}`, after, limit);
}

/** Objects with more than `factor` copies, in key order. */
export async function overReplicated(db: Queryable, factor: number, limit: number): Promise<ObjectCopies[]> {
  return objectsByCopyCount(db, sql`count(*) > ${factor}`, undefined, limit);
}

export async function countUnderReplicated(db: Queryable, factor: number, counted: readonly string[], cap: number): Promise<number> {
  return countByCopyCount(db, sql`count(*) filter (where ${objectLocations.backendName} in ${counted.length ? counted : ['']}) < ${factor}`, cap);
}

export async function countOverReplicated(db: Queryable, factor: number, cap: number): Promise<number> {
  return countByCopyCount(db, sql`count(*) > ${factor}`, cap);
}

async function objectsByCopyCount(db: Queryable, having: ReturnType<typeof sql>, after: { bucket: string; key: string } | undefined, limit: number): Promise<ObjectCopies[]> {
  const position = after
    ? or(gt(objectLocations.bucket, after.bucket), and(eq(objectLocations.bucket, after.bucket), gt(objectLocations.key, after.key)))
    : undefined;
  const keys = await db
    .select({ bucket: objectLocations.bucket, key: objectLocations.key })
    .from(objectLocations)
    .where(position)
    .groupBy(objectLocations.bucket, objectLocations.key)
    .having(having)
    .orderBy(asc(objectLocations.bucket), asc(objectLocations.key))
    .limit(limit);
  const result: ObjectCopies[] = [];
  for (const k of keys) {
    const copies = await db
      .select()
      .from(objectLocations)
      .where(and(eq(objectLocations.bucket, k.bucket), eq(objectLocations.key, k.key)))
      .orderBy(asc(objectLocations.createdAt), asc(objectLocations.backendName));
    result.push({ ...k, copies });
  }
  return result;
}

async function countByCopyCount(db: Queryable, having: ReturnType<typeof sql>, cap: number): Promise<number> {
  const keys = db
    .select({ one: sql`1`.as('one') })
    .from(objectLocations)
    .groupBy(objectLocations.bucket, objectLocations.key)
    .having(having)
    .limit(cap)
    .as('t');
  const [row] = await db.select({ n: sql<string>`count(*)` }).from(keys);
  return Number(row?.n ?? 0);
}

export type ReplicaOutcome = 'recorded' | 'source-gone' | 'no-room';

/**
 * Records a replica whose bytes were already copied to `target`, only while the source copy it was made from is
 * still live (so a deleted or overwritten object is never resurrected) and the target holds no copy of it.
 */
export async function recordReplica(db: Db, source: Pick<ObjectLocationRow, 'bucket' | 'key' | 'backendName' | 'physicalKey' | 'storedSize' | 'encryption'>, target: string): Promise<ReplicaOutcome> {
  return db.transaction(async (tx) => {
    await lockKey(tx, source.bucket, source.key);
    const copies = await tx
      .select({ backendName: objectLocations.backendName, physicalKey: objectLocations.physicalKey })
      .from(objectLocations)
      .where(and(eq(objectLocations.bucket, source.bucket), eq(objectLocations.key, source.key)));
    if (!copies.some((c) => c.backendName === source.backendName && c.physicalKey === source.physicalKey)) return 'source-gone';
    if (copies.some((c) => c.backendName === target)) return 'source-gone';
    if (!(await applyQuotaChanges(tx, [{ backendName: target, reserve: source.storedSize }]))) return 'no-room';
    await tx.insert(objectLocations).values({
      bucket: source.bucket,
      key: source.key,
      backendName: target,
      physicalKey: source.physicalKey,
      storedSize: source.storedSize,
      // The bytes are copied as they are stored, so the replica is sealed as its source is.
      encryption: source.encryption,
    });
    return 'recorded';
  });
}

/**
 * Drops `candidates` copies of an object in the given order, but never below `factor` copies (recounted under the
 * key's lock). Returns the copies dropped, to delete physically after commit.
 */
export async function dropExcessCopies(db: Db, bucket: string, key: string, factor: number, candidates: readonly string[]): Promise<PhysicalCopy[]> {
  return db.transaction(async (tx) => {
    await lockKey(tx, bucket, key);
    const copies = await tx
      .select()
      .from(objectLocations)
      .where(and(eq(objectLocations.bucket, bucket), eq(objectLocations.key, key)));
    let excess = copies.length - factor;
    const dropped: PhysicalCopy[] = [];
    for (const backend of candidates) {
      if (excess <= 0) break;
      const copy = copies.find((c) => c.backendName === backend);
      if (!copy) continue;
      await tx
        .delete(objectLocations)
        .where(and(eq(objectLocations.bucket, bucket), eq(objectLocations.key, key), eq(objectLocations.backendName, backend)));
      dropped.push({ backendName: backend, physicalKey: copy.physicalKey, storedSize: copy.storedSize });
      excess--;
    }
    await applyQuotaChanges(tx, dropped.map((c) => ({ backendName: c.backendName, release: c.storedSize })));
    return dropped;
  });
}
