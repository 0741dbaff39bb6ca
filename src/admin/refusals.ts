/**
 * The one table from the domain's refusal reasons to the admin API's HTTP statuses (the S3 side has its own,
 * src/s3/refusals.ts), and the wrapper every object-browser route answers through.
 */
import { type RefusalReason, isRefusal } from '../objects/refusal.ts';
import { databaseBusy } from '../store/database-gate.ts';
import { isDatabaseUnavailable } from '../store/db.ts';
import { json } from './http.ts';

export const ADMIN_STATUSES: Record<RefusalReason, number> = {
  'no-such-object': 404,
  'no-such-upload': 404,
  'no-such-part': 400,
  'range-not-satisfiable': 416,
  'precondition-failed': 412,
  'unsupported-condition': 501,
  'digest-mismatch': 400,
  'signed-hash-mismatch': 400,
  'body-length-mismatch': 400,
  'invalid-request': 400,
  'too-large': 413,
  'part-too-small': 400,
  'unknown-part': 400,
  'parts-out-of-order': 400,
  'malformed-part-list': 400,
  'no-room': 507,
  'unavailable': 503,
  'too-many-uploads': 503,
  'usage-limit': 429,
  'internal': 500,
};

/**
 * The route's answer, or the JSON error a refusal (or an unreachable database) calls for. Anything else goes on
 * to the admin API's own catch: a 500 for the caller, the error in the log.
 */
/** The JSON answer to a call the isolate's load shedding refused (database-gate.ts). */
export function overloaded(): Response {
  const busy = json(503, { error: 'the orchestrator is overloaded (too many database calls waiting); retry after a pause' });
  busy.headers.set('retry-after', '1');
  return busy;
}

export async function answeringRefusals(route: () => Promise<Response>): Promise<Response> {
  try {
    return await route();
  } catch (err) {
    if (isRefusal(err)) {
      const details = Object.keys(err.details).length > 0 ? { details: err.details } : {};
      return json(ADMIN_STATUSES[err.reason], { error: err.message, ...details });
    }
    if (databaseBusy(err)) return overloaded();
    if (isDatabaseUnavailable(err)) return json(503, { error: 'the metadata store is unavailable; please retry' });
    throw err;
  }
}
