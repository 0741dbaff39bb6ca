/** Backend quota rows: limits synced from config, free space for placement, the accounting check. */
import { eq, inArray, notInArray, sql } from 'drizzle-orm';
import type { Queryable } from './db.ts';
import { retiredBackends } from './backend-states.ts';
import { type BackendMode, backendQuotas, backendStates, backendUsage, multipartParts, multipartUploads, objectLocations } from './schema.ts';

export interface BackendSpace {
  backendName: string;
  /** Only an active backend takes new copies (draining, drained and removed ones do not). */
  mode: BackendMode;
  bytesUsed: number;
  bytesLimit: number;
  orphanBytes: number;
  /** Bytes of parts of in-flight multipart uploads pinned to the backend. */
  inflightBytes: number;
}

/**
 * Upserts each backend's limit; bytes_used is never touched here. A backend that was drained or removed gets no
 * row back while it stays configured, so it never silently re-enters placement.
 */
export async function syncQuotaLimits(db: Queryable, limits: { backendName: string; bytesLimit: number }[]): Promise<void> {
  const retired = await retiredBackends(db);
  const live = limits.filter((l) => !retired.has(l.backendName));
  if (live.length === 0) return;
  await db
    .insert(backendQuotas)
    .values(live.map((l) => ({ backendName: l.backendName, bytesLimit: l.bytesLimit })))
    .onConflictDoUpdate({
      target: backendQuotas.backendName,
      set: { bytesLimit: sql`excluded.bytes_limit`, updatedAt: sql`now()` },
    });
}

export async function backendSpace(db: Queryable, backendNames: readonly string[]): Promise<BackendSpace[]> {
  if (backendNames.length === 0) return [];
  const inflight = db
    .select({
      backendName: multipartUploads.backendName,
      bytes: sql<string>`coalesce(sum(${multipartParts.storedSize}), 0)`.as('bytes'),
    })
    .from(multipartUploads)
    .innerJoin(multipartParts, eq(multipartParts.uploadId, multipartUploads.uploadId))
    .groupBy(multipartUploads.backendName)
    .as('inflight');
  const rows = await db
    .select({
      backendName: backendQuotas.backendName,
      bytesUsed: backendQuotas.bytesUsed,
      bytesLimit: backendQuotas.bytesLimit,
      orphanBytes: backendQuotas.orphanBytes,
      inflightBytes: sql<string | null>`${inflight.bytes}`,
      mode: sql<BackendMode>`coalesce(${backendStates.mode}, 'active')`,
    })
    .from(backendQuotas)
    .leftJoin(inflight, eq(inflight.backendName, backendQuotas.backendName))
    .leftJoin(backendStates, eq(backendStates.backendName, backendQuotas.backendName))
    .where(inArray(backendQuotas.backendName, [...backendNames]));
  return rows.map((r) => ({ ...r, inflightBytes: Number(r.inflightBytes ?? 0) }));
}

/**
 * Adds `amount` to bytes_used only if it still fits and the backend is active: the authoritative check, taken
 * under the row lock so concurrent writers cannot both squeeze into the last free bytes, and a write that was
 * placed just before a drain started cannot land after it. Returns false otherwise.
 */
export async function reserveBytes(db: Queryable, backendName: string, amount: number): Promise<boolean> {
  const rows = await db
    .update(backendQuotas)
    .set({ bytesUsed: sql`${backendQuotas.bytesUsed} + ${amount}`, updatedAt: sql`now()` })
    .where(
      sql`${backendQuotas.backendName} = ${backendName} and (${backendQuotas.bytesLimit} = 0 or ${backendQuotas.bytesUsed} + ${backendQuotas.orphanBytes} + ${amount} <= ${backendQuotas.bytesLimit})
        and not exists (select 1 from ${backendStates} where ${backendStates.backendName} = ${backendName} and ${backendStates.mode} <> 'active')`,
    )
    .returning({ backendName: backendQuotas.backendName });
  return rows.length === 1;
}

export interface QuotaChange {
  backendName: string;
  release?: number;
  reserve?: number;
  /** Orphaned bytes given back first (a queued-ahead copy becoming live), so the reservation can use them. */
  releaseOrphan?: number;
}

/**
 * Applies byte releases and one conditional reservation in one fixed order (backend name), so transactions that
 * touch several backends' quota rows can never deadlock on each other. Returns false, leaving the caller to roll
 * back, when the reservation does not fit (or the backend is not active).
 */
export async function applyQuotaChanges(db: Queryable, changes: readonly QuotaChange[]): Promise<boolean> {
  const ordered = [...changes].sort((a, b) => (a.backendName < b.backendName ? -1 : a.backendName > b.backendName ? 1 : 0));
  for (const change of ordered) {
    if (change.releaseOrphan) await releaseOrphanBytes(db, change.backendName, change.releaseOrphan);
    if (change.release) await releaseBytes(db, change.backendName, change.release);
    if (change.reserve !== undefined && !(await reserveBytes(db, change.backendName, change.reserve))) return false;
  }
  return true;
}

async function releaseOrphanBytes(db: Queryable, backendName: string, amount: number): Promise<void> {
  await db
    .update(backendQuotas)
    .set({ orphanBytes: sql`greatest(0, ${backendQuotas.orphanBytes} - ${amount})`, updatedAt: sql`now()` })
    .where(eq(backendQuotas.backendName, backendName));
}

export async function releaseBytes(db: Queryable, backendName: string, amount: number): Promise<void> {
  await db
    .update(backendQuotas)
    .set({ bytesUsed: sql`greatest(0, ${backendQuotas.bytesUsed} - ${amount})`, updatedAt: sql`now()` })
    .where(eq(backendQuotas.backendName, backendName));
}

/**
 * Bytes a backend can still take, one convention for status and metrics: -1 when unlimited (a limit of 0), 0 for a
 * backend with no quota row (drained or removed: it takes nothing), else limit - used - orphaned.
 */
export function bytesAvailable(row: Pick<BackendReport, 'bytesUsed' | 'orphanBytes'> & { bytesLimit: number | null } | undefined): number {
  if (!row || row.bytesLimit === null) return 0;
  return row.bytesLimit === 0 ? -1 : Math.max(0, row.bytesLimit - row.bytesUsed - row.orphanBytes);
}

export interface BackendReport {
  backendName: string;
  bytesUsed: number;
  bytesLimit: number;
  orphanBytes: number;
  /** Copies recorded on the backend, and the sum of their sizes (which must equal bytesUsed). */
  objects: number;
  recordedBytes: number;
}

/** Every backend's quota row next to what is recorded on it: the status report and the accounting check. */
export async function backendReport(db: Queryable): Promise<BackendReport[]> {
  const rows = await db
    .select({
      backendName: backendQuotas.backendName,
      bytesUsed: backendQuotas.bytesUsed,
      bytesLimit: backendQuotas.bytesLimit,
      orphanBytes: backendQuotas.orphanBytes,
      objects: sql<string>`count(${objectLocations.key})`,
      recordedBytes: sql<string>`coalesce(sum(${objectLocations.storedSize}), 0)`,
    })
    .from(backendQuotas)
    .leftJoin(objectLocations, eq(objectLocations.backendName, backendQuotas.backendName))
    .groupBy(backendQuotas.backendName)
    .orderBy(backendQuotas.backendName);
  return rows.map((r) => ({ ...r, objects: Number(r.objects), recordedBytes: Number(r.recordedBytes) }));
}

export interface BackendUsage {
  backendName: string;
  apiRequests: number;
  egressBytes: number;
  ingressBytes: number;
}

/** Usage counted for a period (`YYYY-MM`), per backend that has any. */
export async function usageForPeriod(db: Queryable, period: string): Promise<BackendUsage[]> {
  return db
    .select({
      backendName: backendUsage.backendName,
      apiRequests: backendUsage.apiRequests,
      egressBytes: backendUsage.egressBytes,
      ingressBytes: backendUsage.ingressBytes,
    })
    .from(backendUsage)
    .where(eq(backendUsage.period, period));
}

/**
 * Adds counted usage to a backend's month (the usage flush). A drained or removed backend has no quota row any
 * more (and so no usage rows); its usage is then not recorded and this answers false, instead of failing the
 * flush on the foreign key every minute.
 */
export async function addBackendUsage(db: Queryable, backendName: string, period: string, delta: { apiRequests: number; egressBytes: number; ingressBytes: number }): Promise<boolean> {
  // The select lists every column of backend_usage in table order (drizzle inserts a select into all of them).
  const recorded = await db
    .insert(backendUsage)
    .select(sql`
      select ${backendName}, ${period}, ${delta.apiRequests}, ${delta.egressBytes}, ${delta.ingressBytes}, now()
      where exists (select 1 from ${backendQuotas} where ${backendQuotas.backendName} = ${backendName})`)
    .onConflictDoUpdate({
      target: [backendUsage.backendName, backendUsage.period],
      set: {
        apiRequests: sql`${backendUsage}.api_requests + excluded.api_requests`,
        egressBytes: sql`${backendUsage}.egress_bytes + excluded.egress_bytes`,
        ingressBytes: sql`${backendUsage}.ingress_bytes + excluded.ingress_bytes`,
        updatedAt: sql`now()`,
      },
    })
    .returning({ backendName: backendUsage.backendName });
  return recorded.length > 0;
}

/** Copy records per backend that is not among `configured` (a backend taken out of the configuration undrained). */
export async function copiesOnUnconfigured(db: Queryable, configured: readonly string[]): Promise<{ backendName: string; copies: number }[]> {
  const rows = await db
    .select({ backendName: objectLocations.backendName, copies: sql<string>`count(*)` })
    .from(objectLocations)
    .where(configured.length > 0 ? notInArray(objectLocations.backendName, [...configured]) : sql`true`)
    .groupBy(objectLocations.backendName);
  return rows.map((r) => ({ backendName: r.backendName, copies: Number(r.copies) }));
}
