/** Backend placement states (mirrored from each backend's Durable Object) and the removal of a backend's rows. */
import { and, eq, ne, sql } from 'drizzle-orm';
import type { Db, Queryable } from './db.ts';
import {
  type BackendMode,
  backendQuotas,
  backendStates,
  backendUsage,
  cleanupQueue,
  multipartUploads,
  objectLocations,
  objects,
} from './schema.ts';

export async function setBackendMode(db: Queryable, backendName: string, mode: BackendMode): Promise<void> {
  await db
    .insert(backendStates)
    .values({ backendName, mode })
    .onConflictDoUpdate({ target: backendStates.backendName, set: { mode, changedAt: sql`now()` } });
}

/** Modes of the backends that have one; a backend without a row is active. */
export async function backendModes(db: Queryable): Promise<Map<string, BackendMode>> {
  const rows = await db.select({ name: backendStates.backendName, mode: backendStates.mode }).from(backendStates);
  return new Map(rows.map((r) => [r.name, r.mode]));
}

/** What is still recorded on a backend: live copies and their bytes, multipart uploads in progress, queued deletes. */
export async function recordedOn(db: Queryable, backendName: string): Promise<{ objects: number; bytes: number; uploads: number; queuedDeletes: number }> {
  const [copies] = await db
    .select({ objects: sql<string>`count(*)`, bytes: sql<string>`coalesce(sum(${objectLocations.storedSize}), 0)` })
    .from(objectLocations)
    .where(eq(objectLocations.backendName, backendName));
  const [uploads] = await db.select({ n: sql<string>`count(*)` }).from(multipartUploads).where(eq(multipartUploads.backendName, backendName));
  const [queued] = await db.select({ n: sql<string>`count(*)` }).from(cleanupQueue).where(eq(cleanupQueue.backendName, backendName));
  return { objects: Number(copies?.objects ?? 0), bytes: Number(copies?.bytes ?? 0), uploads: Number(uploads?.n ?? 0), queuedDeletes: Number(queued?.n ?? 0) };
}

/**
 * Ends a drain: only if nothing is recorded on the backend any more and no delete on it is still queued (checked
 * under its quota row's lock, which every write to it takes; a queued delete would be forgotten with the rows),
 * its remaining rows go and it is marked drained. Returns false when something is left.
 */
export async function finishDrain(db: Db, backendName: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.select({ name: backendQuotas.backendName }).from(backendQuotas).where(eq(backendQuotas.backendName, backendName)).for('update');
    const left = await recordedOn(tx, backendName);
    if (left.objects > 0 || left.uploads > 0 || left.queuedDeletes > 0) return false;
    await deleteBackendRows(tx, backendName);
    await setBackendMode(tx, backendName, 'drained');
    return true;
  });
}

/**
 * Drops every row of a backend (remove-backend): its copies, and the objects that had no other copy, which are
 * lost to clients from now on. Marks the backend removed so it stays out of placement while configured.
 */
export async function removeBackendRecords(db: Db, backendName: string): Promise<{ objects: number; bytes: number }> {
  return db.transaction(async (tx) => {
    const before = await recordedOn(tx, backendName);
    // One statement: the copies go, and so do the objects that had no copy elsewhere (unreadable from now on).
    await tx.execute(sql`
      with gone as (
        delete from ${objectLocations} where ${objectLocations.backendName} = ${backendName} returning bucket, key
      )
      delete from ${objects} o using gone g
      where o.bucket = g.bucket and o.key = g.key
        and not exists (
          select 1 from ${objectLocations} l where l.bucket = o.bucket and l.key = o.key and l.backend_name <> ${backendName}
        )`);
    await deleteBackendRows(tx, backendName);
    await setBackendMode(tx, backendName, 'removed');
    return { objects: before.objects, bytes: before.bytes };
  });
}

/** A backend's bookkeeping rows, children first. */
async function deleteBackendRows(tx: Queryable, backendName: string): Promise<void> {
  await tx.delete(cleanupQueue).where(eq(cleanupQueue.backendName, backendName));
  await tx.delete(multipartUploads).where(eq(multipartUploads.backendName, backendName));
  await tx.delete(objectLocations).where(eq(objectLocations.backendName, backendName));
  await tx.delete(backendUsage).where(eq(backendUsage.backendName, backendName));
  await tx.delete(backendQuotas).where(eq(backendQuotas.backendName, backendName));
}

/** Backends that must not get a quota row back from the config sync (drained or removed while configured). */
export async function retiredBackends(db: Queryable): Promise<Set<string>> {
  const rows = await db.select({ name: backendStates.backendName }).from(backendStates).where(and(ne(backendStates.mode, 'active'), ne(backendStates.mode, 'draining')));
  return new Set(rows.map((r) => r.name));
}

/** Whether the database still holds a quota row for the backend (it may have left the configuration). */
export async function hasQuotaRow(db: Queryable, backendName: string): Promise<boolean> {
  const rows = await db.select({ name: backendQuotas.backendName }).from(backendQuotas).where(eq(backendQuotas.backendName, backendName));
  return rows.length > 0;
}
