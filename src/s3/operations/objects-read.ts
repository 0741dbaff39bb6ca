/** GetObject and HeadObject. */
import type { ByteRange } from '../../util/byte-range.ts';
import { describeObject, openObject } from '../../objects/read-object.ts';
import type { SelectedPart } from '../../objects/object-parts.ts';
import type { Handler } from '../dispatch-types.ts';
import { S3Error } from '../errors.ts';
import type { StoredObject } from '../../store/objects.ts';
import type { S3Request } from '../request.ts';
import { partNumberParam, requireKey } from '../request-fields.ts';
import { objectHeaders } from '../responses.ts';

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html */
export const GetObject: Handler = async (services, request, auth) => {
  const partNumber = partNumberOf(request);
  const opened = await openObject(services, auth.bucket, requireKey(request), request.headers, partNumber);
  if (opened.notModified) return notModified(opened.object);
  const { object, range, part, body } = opened;
  const headers = objectHeaders(object, { checksum: wantsChecksum(request) && !range && !part });
  if (part) return partResponse(body, headers, object, part);
  if (range) return partialResponse(body, headers, object, range);
  headers.set('content-length', String(object.size));
  return new Response(body, { status: 200, headers });
};

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html - answered from the record alone. */
export const HeadObject: Handler = async (services, request, auth) => {
  const partNumber = partNumberOf(request);
  const described = await describeObject(services, auth.bucket, requireKey(request), request.headers, partNumber);
  if (described.notModified) return notModified(described.object);
  const { object, part } = described;
  const headers = objectHeaders(object, { checksum: wantsChecksum(request) && !part });
  if (part) return partResponse(null, headers, object, part);
  headers.set('content-length', String(object.size));
  return new Response(null, { status: 200, headers });
};

/**
 * partNumber reads one part as a ranged read would: 206 with its Content-Range, and x-amz-mp-parts-count for objects
 * a multipart upload made. It cannot be combined with Range.
 */
function partNumberOf(request: S3Request): number | undefined {
  if (!request.query.has('partNumber')) return undefined;
  const partNumber = partNumberParam(request);
  if (request.headers.has('range')) throw new S3Error('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter');
  return partNumber;
}

function partResponse(body: ReadableStream<Uint8Array> | null, headers: Headers, object: StoredObject, part: SelectedPart): Response {
  if (part.partsCount !== undefined) headers.set('x-amz-mp-parts-count', String(part.partsCount));
  return partialResponse(body, headers, object, part.range);
}

/** 206 with the range's length and Content-Range (a part of no bytes has neither a first nor a last byte). */
function partialResponse(body: ReadableStream<Uint8Array> | null, headers: Headers, object: StoredObject, range: ByteRange | undefined): Response {
  headers.set('content-length', String(range ? range.end - range.start + 1 : 0));
  if (range) headers.set('content-range', `bytes ${range.start}-${range.end}/${object.size}`);
  return new Response(body, { status: 206, headers });
}

/** Checksums are returned only on request, and (being whole-object values) never for a range or a part. */
function wantsChecksum(request: S3Request): boolean {
  return request.headers.get('x-amz-checksum-mode')?.toUpperCase() === 'ENABLED';
}

/** 304 carries the validators and no body. */
function notModified(object: StoredObject): Response {
  return new Response(null, { status: 304, headers: { etag: object.etag, 'last-modified': object.createdAt.toUTCString() } });
}
