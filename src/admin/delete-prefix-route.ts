/**
 * The object browser's "delete folder": every key under a prefix, through the ordinary delete, a bounded share per
 * call. The page makes the user type `bucket/prefix`; that text must come back exactly as `confirm`.
 */
import { deletePrefix } from '../objects/delete-prefix.ts';
import type { AuditNote } from './admin-audit.ts';
import type { AdminContext } from './api.ts';
import { json, readJsonObject } from './http.ts';
import { configuredBucket, prefixParam } from './object-address.ts';
import { answeringRefusals } from './refusals.ts';

/** Per call: at most this many keys, and no new page after this long (well within a request's lifetime). */
const MAX_KEYS_PER_CALL = 1000;
const MAX_MS_PER_CALL = 15_000;

/** Body `{bucket, prefix, confirm}`; answers `{deleted, failed, more}` and the caller repeats while `more`. */
export function deletePrefixRoute(request: Request, context: AdminContext, note: AuditNote = () => {}): Promise<Response> {
  return answeringRefusals(async () => {
    const body = await readJsonObject(request, '{"bucket": "photos", "prefix": "2024/", "confirm": "photos/2024/"}');
    if (!body.ok) return body.response;
    const bucket = configuredBucket(body.value.bucket, context);
    if (bucket instanceof Response) return bucket;
    const prefix = prefixParam(body.value.prefix);
    if (prefix instanceof Response) return prefix;
    note({ bucket, prefix });
    const expected = `${bucket}/${prefix}`;
    if (body.value.confirm !== expected) {
      return json(400, { error: `confirm must be exactly ${JSON.stringify(expected)}; nothing was deleted` });
    }
    const services = context.services;
    const result = await deletePrefix(services, bucket, prefix, { maxKeys: MAX_KEYS_PER_CALL, deadline: services.now() + MAX_MS_PER_CALL });
    services.log.info('keys deleted under a prefix', { bucket, prefix, ...result });
    note({ deleted: result.deleted, failed: result.failed, more: result.more });
    return json(200, result);
  });
}
