/**
 * Multipart uploads for the object browser's large files, on the same domain calls as S3's multipart operations:
 * create, one streamed part at a time, complete, abort. An upload id is bound to its bucket and key, so every call
 * names both again and a mismatch is the same 404 as an unknown id.
 */
import {
  type CompletedPart,
  MAX_PARTS,
  MAX_PART_BYTES,
  MIN_PART_BYTES,
  abortUpload,
  completeUpload,
  completedUpload,
  createUpload,
  findUploadOf,
  requireUpload,
  uploadPart,
} from '../objects/multipart.ts';
import { ensureQuotaLimitsSynced } from '../jobs/quota-sync.ts';
import { findObject } from '../store/objects.ts';
import type { AuditNote } from './admin-audit.ts';
import type { AdminContext } from './api.ts';
import { json } from './http.ts';
import { bodyAddress, contentTypeParam, queryAddress } from './object-address.ts';
import { answeringRefusals } from './refusals.ts';
import { receivingBody, streamedBody } from './streamed-body.ts';

/** Body `{bucket, key, content_type?}`: the upload's id and the part rules the browser slices the file by. */
export function createUploadRoute(request: Request, context: AdminContext, note: AuditNote = () => {}): Promise<Response> {
  return answeringRefusals(async () => {
    const body = await bodyAddress(request, '{"bucket": "photos", "key": "big.iso", "content_type": "application/x-iso9660-image"}', context);
    if (body instanceof Response) return body;
    const { address, fields } = body;
    note({ bucket: address.bucket, key: address.key });
    const contentType = contentTypeParam(fields.content_type);
    if (contentType instanceof Response) return contentType;
    await ensureQuotaLimitsSynced(context.services);
    const uploadId = await createUpload(context.services, { ...address, contentType, metadata: {}, headers: {} });
    note({ upload_id: uploadId });
    return json(200, { upload_id: uploadId, min_part_size: MIN_PART_BYTES, max_parts: MAX_PARTS });
  });
}

/** `PUT /uploads/:id/parts/:n?bucket=B&key=K`, the part's bytes as application/octet-stream. */
export function uploadPartRoute(request: Request, uploadId: string, partNumber: string, context: AdminContext): Promise<Response> {
  return receivingBody(request, async () => {
    const address = queryAddress(request, context);
    if (address instanceof Response) return address;
    const number = partNumberOf(partNumber);
    if (number === undefined) return json(400, { error: `the part number must be a whole number from 1 to ${MAX_PARTS}` });
    const body = streamedBody(request, MAX_PART_BYTES);
    if (body instanceof Response) return body;
    const upload = await requireUpload(context.services, uploadId, address.bucket, address.key);
    const part = await uploadPart(context.services, upload, { partNumber: number, ...body, expect: {} });
    return json(200, { part_number: number, etag: part.etag });
  });
}

/**
 * Body `{bucket, key, parts: [{part_number, etag}]}`, parts in ascending order. A completion retried after it
 * succeeded answers the same object, as S3's does.
 */
export function completeUploadRoute(request: Request, uploadId: string, context: AdminContext, note: AuditNote = () => {}): Promise<Response> {
  return answeringRefusals(async () => {
    const body = await bodyAddress(request, '{"bucket": "photos", "key": "big.iso", "parts": [{"part_number": 1, "etag": "\\"...\\""}]}', context);
    if (body instanceof Response) return body;
    const { address, fields } = body;
    note({ bucket: address.bucket, key: address.key });
    const parts = completedParts(fields.parts);
    if (parts instanceof Response) return parts;
    const upload = await findUploadOf(context.services, uploadId, address.bucket, address.key);
    const result = upload
      ? await completeUpload(context.services, upload, parts, undefined)
      : await completedUpload(context.services, uploadId, address.bucket, address.key);
    const object = await findObject(context.services.db(), address.bucket, address.key);
    return json(200, { ...address, etag: result.etag, size: object?.size ?? null });
  });
}

/** `DELETE /uploads/:id?bucket=B&key=K`: the parts sent so far are deleted and their room freed. */
export function abortUploadRoute(request: Request, uploadId: string, context: AdminContext): Promise<Response> {
  return answeringRefusals(async () => {
    const address = queryAddress(request, context);
    if (address instanceof Response) return address;
    await abortUpload(context.services, await requireUpload(context.services, uploadId, address.bucket, address.key));
    return json(200, { aborted: true });
  });
}

function partNumberOf(text: unknown): number | undefined {
  const number = typeof text === 'number' ? text : typeof text === 'string' && /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  return Number.isInteger(number) && number >= 1 && number <= MAX_PARTS ? number : undefined;
}

/** The listed parts, each checked, or the 400 that says which one is wrong; order is the domain's to judge. */
function completedParts(listed: unknown): CompletedPart[] | Response {
  if (!Array.isArray(listed) || listed.length === 0 || listed.length > MAX_PARTS) {
    return json(400, { error: `parts must be a list of 1 to ${MAX_PARTS} {"part_number", "etag"} entries` });
  }
  const parts: CompletedPart[] = [];
  for (const [i, entry] of listed.entries()) {
    const fields = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    const partNumber = partNumberOf(fields.part_number);
    if (partNumber === undefined) return json(400, { error: `parts[${i}].part_number must be a whole number from 1 to ${MAX_PARTS}` });
    if (typeof fields.etag !== 'string' || fields.etag === '' || fields.etag.length > 100) {
      return json(400, { error: `parts[${i}].etag must be the ETag its upload answered` });
    }
    parts.push({ partNumber, etag: fields.etag });
  }
  return parts;
}
