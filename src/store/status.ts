/** What `admin status` reports per backend, straight from the metadata store. */
import { count, eq, sql } from 'drizzle-orm';
import type { Queryable } from './db.ts';
import { backendQuotas, objectLocations } from './schema.ts';

export interface BackendStatusRow {
  backendName: string;
  bytesUsed: number;
  bytesLimit: number;
  orphanBytes: number;
  objects: number;
}

export async function backendStatus(db: Queryable): Promise<BackendStatusRow[]> {
  const rows = await db
    .select({
      backendName: backendQuotas.backendName,
      bytesUsed: backendQuotas.bytesUsed,
      bytesLimit: backendQuotas.bytesLimit,
      orphanBytes: backendQuotas.orphanBytes,
      objects: sql<string>`${count(objectLocations.key)}`,
    })
    .from(backendQuotas)
    .leftJoin(objectLocations, eq(objectLocations.backendName, backendQuotas.backendName))
    .groupBy(backendQuotas.backendName)
    .orderBy(backendQuotas.backendName);
  return rows.map((r) => ({ ...r, objects: Number(r.objects) }));
}
