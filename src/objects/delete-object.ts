/** Deleting an object: drop its record and every copy's bytes in one transaction, then delete the copies. */
import type { Services } from '../services/services.ts';
import { deleteObjectRecord } from '../store/objects.ts';
import { discardCopies } from './discard-copies.ts';

/** Idempotent: deleting a key that does not exist succeeds and changes nothing. */
export async function deleteObject(services: Services, bucket: string, key: string): Promise<void> {
  services.memory.locations.forget(bucket, key);
  const removed = await deleteObjectRecord(services.db(), bucket, key);
  await discardCopies(services, removed, 'delete_failed');
}
