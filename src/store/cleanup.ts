/** The cleanup queue: physical copies that could not be deleted yet, with their bytes held in orphan_bytes. */
import { sql } from 'drizzle-orm';
import type { Db } from './db.ts';
import type { PhysicalCopy } from './objects.ts';
import { backendQuotas, cleanupQueue } from './schema.ts';

export type CleanupReason = 'overwrite_displaced' | 'delete_failed' | 'record_failed' | 'upload_failed' | 'drain_source_delete' | 'drain_stale_orphan';

export async function enqueueCleanup(
  db: Db,
  items: { copy: PhysicalCopy; reason: CleanupReason; error: string }[],
): Promise<void> {
  if (items.length === 0) return;
  await db.transaction(async (tx) => {
    await tx.insert(cleanupQueue).values(
      items.map((i) => ({
        backendName: i.copy.backendName,
        physicalKey: i.copy.physicalKey,
        reason: i.reason,
        size: i.copy.storedSize,
        lastError: i.error.slice(0, 1000),
      })),
    );
    // In backend order, like every multi-backend quota update, so it cannot deadlock with them.
    for (const item of [...items].sort((a, b) => (a.copy.backendName < b.copy.backendName ? -1 : a.copy.backendName > b.copy.backendName ? 1 : 0))) {
      await tx
        .update(backendQuotas)
        .set({ orphanBytes: sql`${backendQuotas.orphanBytes} + ${item.copy.storedSize}`, updatedAt: sql`now()` })
        .where(sql`${backendQuotas.backendName} = ${item.copy.backendName}`);
    }
  });
}
