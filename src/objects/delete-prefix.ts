/**
 * Deleting every key under a prefix (the dashboard's "delete folder"), through the ordinary delete of each key so
 * records, quotas and copies go exactly as a client's DeleteObject takes them. One call does a bounded share and
 * says whether keys remain; the caller calls again.
 */
import type { Services } from '../services/services.ts';
import { listObjectPage } from '../store/objects.ts';
import { errorFields } from '../observe/log.ts';
import { mapBounded } from '../util/bounded.ts';
import { deleteObject } from './delete-object.ts';

export interface DeletePrefixBudget {
  /** Keys to try at most in this call. */
  maxKeys: number;
  /** services.now() past which no further page is started. */
  deadline: number;
}

export interface DeletePrefixResult {
  deleted: number;
  failed: number;
  /** Keys may remain under the prefix: the budget ran out before the listing did. */
  more: boolean;
}

/** Deletes at a time: each is a short transaction and the backend deletes of its copies. */
const CONCURRENT_DELETES = 4;
const PAGE_KEYS = 100;

/** '' is the whole bucket. A key that fails is logged, counted and passed over; the next call tries it again. */
export async function deletePrefix(services: Services, bucket: string, prefix: string, budget: DeletePrefixBudget): Promise<DeletePrefixResult> {
  const result: DeletePrefixResult = { deleted: 0, failed: 0, more: false };
  let after = '';
  for (;;) {
    const left = budget.maxKeys - result.deleted - result.failed;
    if (left <= 0 || services.now() >= budget.deadline) {
      result.more = true;
      return result;
    }
    const page = await listObjectPage(services.db(), { bucket, prefix, after, limit: Math.min(PAGE_KEYS, left) });
    await mapBounded(page, CONCURRENT_DELETES, async ({ key }) => {
      try {
        await deleteObject(services, bucket, key);
        result.deleted++;
      } catch (err) {
        services.log.warn('delete under a prefix failed for one key', { bucket, key, ...errorFields(err) });
        result.failed++;
      }
    });
    if (page.length < Math.min(PAGE_KEYS, left)) return result;
    after = page.at(-1)?.key ?? after;
  }
}
