/**
 * The accounting invariant (DESIGN.md, invariant 2) as one query and one check, shared by the integration tests
 * (accounting.ts, over a real Postgres) and the domain unit tests (over PGlite): for every backend, bytes_used equals
 * the stored sizes of the copies recorded on it, and orphan_bytes the sizes of the deletes queued on it.
 */

export interface BackendAccounting {
  backend: string;
  bytesUsed: number;
  recordedBytes: number;
  orphanBytes: number;
  queuedBytes: number;
}

/** Text columns, so that any driver's bigint handling reads them the same way. */
export const ACCOUNTING_QUERY = `
  select q.backend_name as backend, q.bytes_used::text as used, q.orphan_bytes::text as orphan,
         coalesce((select sum(stored_size) from object_locations l where l.backend_name = q.backend_name), 0)::text as recorded,
         coalesce((select sum(size) from cleanup_queue c where c.backend_name = q.backend_name), 0)::text as queued
  from backend_quotas q order by q.backend_name`;

export interface AccountingRow {
  backend: string;
  used: string;
  recorded: string;
  orphan: string;
  queued: string;
}

export function toAccounting(rows: readonly AccountingRow[]): BackendAccounting[] {
  return rows.map((r) => ({
    backend: r.backend,
    bytesUsed: Number(r.used),
    recordedBytes: Number(r.recorded),
    orphanBytes: Number(r.orphan),
    queuedBytes: Number(r.queued),
  }));
}

/** Human-readable violations: bytes_used must equal recorded bytes, orphan_bytes must equal queued bytes. */
export function accountingViolations(accounting: readonly BackendAccounting[]): string[] {
  return accounting.flatMap((b) => [
    ...(b.bytesUsed === b.recordedBytes ? [] : [`${b.backend}: bytes_used ${b.bytesUsed} != recorded ${b.recordedBytes}`]),
    ...(b.orphanBytes === b.queuedBytes ? [] : [`${b.backend}: orphan_bytes ${b.orphanBytes} != queued ${b.queuedBytes}`]),
  ]);
}
