/**
 * The object browser's single-object routes: download, upload and delete, through the same domain calls as S3's
 * GetObject, PutObject and DeleteObject. `?bucket=B&key=K` names the object; the key is data, never a path.
 */
import { deleteObject } from '../objects/delete-object.ts';
import { putObject } from '../objects/put-object.ts';
import { openObject } from '../objects/read-object.ts';
import { ensureQuotaLimitsSynced } from '../jobs/quota-sync.ts';
import type { AdminContext } from './api.ts';
import { json } from './http.ts';
import { contentTypeParam, queryAddress } from './object-address.ts';
import { answeringRefusals } from './refusals.ts';
import { receivingBody, streamedBody } from './streamed-body.ts';

/**
 * The bytes, as a download only: whatever the tenant stored, the dashboard's origin must never render it, so the
 * type is always application/octet-stream (the stored one travels in x-object-content-type), the browser is told
 * to save it and not to sniff it, and a sandbox policy covers anything that opens it anyway.
 */
export function getObjectRoute(request: Request, context: AdminContext): Promise<Response> {
  return answeringRefusals(async () => {
    const address = queryAddress(request, context);
    if (address instanceof Response) return address;
    const opened = await openObject(context.services, address.bucket, address.key, new Headers());
    // No condition was sent, so there is always a body.
    if (opened.notModified) throw new Error('an unconditional read answered not-modified');
    const { object, body } = opened;
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': 'application/octet-stream',
        'content-disposition': `attachment; filename*=UTF-8''${rfc5987(downloadName(address.key))}`,
        'content-length': String(object.size),
        etag: object.etag,
        'last-modified': object.createdAt.toUTCString(),
        'x-object-content-type': object.contentType,
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; sandbox",
        'cache-control': 'no-store',
      },
    });
  });
}

/** `Content-Type: application/octet-stream` body, its type to store in `x-object-content-type`. */
export function putObjectRoute(request: Request, context: AdminContext): Promise<Response> {
  return receivingBody(request, async () => {
    const address = queryAddress(request, context);
    if (address instanceof Response) return address;
    const contentType = contentTypeParam(request.headers.get('x-object-content-type'));
    if (contentType instanceof Response) return contentType;
    const body = streamedBody(request, context.services.config.server.maxObjectSize);
    if (body instanceof Response) return body;
    await ensureQuotaLimitsSynced(context.services);
    const result = await putObject(context.services, { ...address, ...body, contentType, metadata: {}, headers: {}, expect: {} });
    return json(200, { ...address, etag: result.etag, size: body.size });
  });
}

/** Idempotent, as S3's DeleteObject: a key that does not exist is deleted too. */
export function deleteObjectRoute(request: Request, context: AdminContext): Promise<Response> {
  return answeringRefusals(async () => {
    const address = queryAddress(request, context);
    if (address instanceof Response) return address;
    await deleteObject(context.services, address.bucket, address.key);
    return json(200, { deleted: true });
  });
}

/** The key's last segment that has a name ('a/b/' saves as 'b'), else a neutral one. */
function downloadName(key: string): string {
  return key.split('/').filter(Boolean).at(-1) ?? 'download';
}

/** RFC 5987 ext-value characters: encodeURIComponent leaves a few that attr-char does not allow. */
function rfc5987(text: string): string {
  return encodeURIComponent(text).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
