/** GetObject and HeadObject. */
import { evaluateReadConditions } from '../../objects/conditions.ts';
import { conditionTarget, lookupObject, openObject } from '../../objects/read-object.ts';
import type { Handler } from '../dispatch-types.ts';
import type { StoredObject } from '../../store/objects.ts';
import type { S3Request } from '../request.ts';
import { requireKey } from '../request-fields.ts';
import { objectHeaders } from '../responses.ts';

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html */
export const GetObject: Handler = async (services, request, auth) => {
  const opened = await openObject(services, auth.bucket, requireKey(request), request.headers);
  if (opened.notModified) return notModified(opened.object);
  const { object, range, body } = opened;
  const headers = objectHeaders(object, { checksum: wantsChecksum(request) && !range });
  if (!range) {
    headers.set('content-length', String(object.size));
    return new Response(body, { status: 200, headers });
  }
  headers.set('content-length', String(range.end - range.start + 1));
  headers.set('content-range', `bytes ${range.start}-${range.end}/${object.size}`);
  return new Response(body, { status: 206, headers });
};

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html - answered from the record alone. */
export const HeadObject: Handler = async (services, request, auth) => {
  const object = await lookupObject(services, auth.bucket, requireKey(request));
  if (evaluateReadConditions(request.headers, conditionTarget(object)) === 'not-modified') return notModified(object);
  const headers = objectHeaders(object, { checksum: wantsChecksum(request) });
  headers.set('content-length', String(object.size));
  return new Response(null, { status: 200, headers });
};

/** Checksums are returned only on request, and (being whole-object values) never for a range. */
function wantsChecksum(request: S3Request): boolean {
  return request.headers.get('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
}

/** 304 carries the validators and no body. */
function notModified(object: StoredObject): Response {
  return new Response(null, { status: 304, headers: { etag: object.etag, 'last-modified': object.createdAt.toUTCString() } });
}
