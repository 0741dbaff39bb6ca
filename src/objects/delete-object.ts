/** Deleting an object: drop its record and every copy's bytes in one transaction, then delete the copies. */
import type { Services } from '../services/services.ts';
import { deleteObjectRecord, deleteObjectVersion } from '../store/objects.ts';
import { discardCopies } from './discard-copies.ts';
import { forgetObject } from './edge-cache.ts';

/** Idempotent: deleting a key that does not exist succeeds and changes nothing. */
export async function deleteObject(services: Services, bucket: string, key: string): Promise<void> {
  forgetObject(services, bucket, key);
  const removed = await deleteObjectRecord(services.db(), bucket, key);
  await discardCopies(services, removed, 'delete_failed');
}

/**
 * The same delete, but only of `version` (lifecycle expiry): 'changed' when a client overwrote or deleted the key
 * since that version was found, which then stays as it is.
 */
export async function deleteObjectIfVersion(services: Services, bucket: string, key: string, version: string): Promise<'deleted' | 'changed'> {
  forgetObject(services, bucket, key);
  const removed = await deleteObjectVersion(services.db(), bucket, key, version);
  if (!removed) return 'changed';
  await discardCopies(services, removed, 'delete_failed');
  return 'deleted';
}
