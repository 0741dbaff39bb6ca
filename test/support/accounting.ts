/** Reads the accounting invariant straight from Postgres (not through the Worker). */
import pg from 'pg';

export interface BackendAccounting {
  backend: string;
  bytesUsed: number;
  recordedBytes: number;
  orphanBytes: number;
  queuedBytes: number;
}

export async function backendAccounting(url: string): Promise<BackendAccounting[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ backend: string; used: string; recorded: string; orphan: string; queued: string }>(`
      select q.backend_name as backend, q.bytes_used as used, q.orphan_bytes as orphan,
             coalesce((select sum(stored_size) from object_locations l where l.backend_name = q.backend_name), 0) as recorded,
             coalesce((select sum(size) from cleanup_queue c where c.backend_name = q.backend_name), 0) as queued
      from backend_quotas q order by q.backend_name`);
    return rows.map((r) => ({
      backend: r.backend,
      bytesUsed: Number(r.used),
      recordedBytes: Number(r.recorded),
      orphanBytes: Number(r.orphan),
      queuedBytes: Number(r.queued),
    }));
  } finally {
    await client.end();
  }
}

/** Human-readable violations: bytes_used must equal recorded bytes, orphan_bytes must equal queued bytes. */
export async function accountingDrift(url: string): Promise<string[]> {
  return (await backendAccounting(url)).flatMap((b) => [
    ...(b.bytesUsed === b.recordedBytes ? [] : [`${b.backend}: bytes_used ${b.bytesUsed} != recorded ${b.recordedBytes}`]),
    ...(b.orphanBytes === b.queuedBytes ? [] : [`${b.backend}: orphan_bytes ${b.orphanBytes} != queued ${b.queuedBytes}`]),
  ]);
}
