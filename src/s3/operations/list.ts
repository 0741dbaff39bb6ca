/** ListObjectsV2 and ListObjects (v1), served from the database. */
import { fromBase64, toBase64 } from '../../crypto/encoding.ts';
import { type ListResult, listKeys } from '../../objects/list-keys.ts';
import type { Handler } from '../dispatch-types.ts';
import { S3Error } from '../errors.ts';
import type { S3Request } from '../request.ts';
import { integerParam } from '../request-fields.ts';
import { isoTime, xmlResponse } from '../responses.ts';
import { uriEncode } from '../../crypto/encoding.ts';
import type { XmlNode } from '../../util/xml.ts';
import { OWNER } from './buckets.ts';

const MAX_KEYS = 1000;

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html */
export const ListObjectsV2: Handler = async (services, request, auth) => {
  const common = commonParams(request);
  const token = request.query.get('continuation-token');
  const startAfter = request.query.get('start-after') ?? '';
  // An empty token is no position at all: S3 lists from the start (after start-after) and echoes it.
  const position = token === undefined || token === '' ? { after: startAfter, skipPrefix: undefined } : decodeToken(token);
  const result = await listKeys(services, { bucket: auth.bucket, ...common, ...position });
  const encode = encoder(request);
  return xmlResponse('ListBucketResult', {
    Name: auth.bucket,
    Prefix: encode(common.prefix),
    Delimiter: common.delimiter ? encode(common.delimiter) : undefined,
    MaxKeys: common.maxKeys,
    KeyCount: result.contents.length + result.commonPrefixes.length,
    IsTruncated: result.isTruncated,
    ContinuationToken: token,
    NextContinuationToken: result.isTruncated && result.lastEntry !== undefined ? encodeToken(result, common.delimiter) : undefined,
    StartAfter: startAfter ? encode(startAfter) : undefined,
    EncodingType: request.query.get('encoding-type'),
    ...entries(result, encode, request.query.get('fetch-owner') === 'true'),
  });
};

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html */
export const ListObjects: Handler = async (services, request, auth) => {
  const common = commonParams(request);
  const marker = request.query.get('marker') ?? '';
  const skipPrefix = isCommonPrefix(marker, common.prefix, common.delimiter) ? marker : undefined;
  const result = await listKeys(services, { bucket: auth.bucket, ...common, after: marker, skipPrefix });
  const encode = encoder(request);
  return xmlResponse('ListBucketResult', {
    Name: auth.bucket,
    Prefix: encode(common.prefix),
    Marker: encode(marker),
    Delimiter: common.delimiter ? encode(common.delimiter) : undefined,
    MaxKeys: common.maxKeys,
    IsTruncated: result.isTruncated,
    NextMarker: result.isTruncated && result.lastEntry !== undefined ? encode(result.lastEntry) : undefined,
    EncodingType: request.query.get('encoding-type'),
    // V1 always reports the owner.
    ...entries(result, encode, true),
  });
};

function commonParams(request: S3Request) {
  const encodingType = request.query.get('encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') {
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
      details: { ArgumentName: 'encoding-type', ArgumentValue: encodingType },
    });
  }
  return {
    prefix: request.query.get('prefix') ?? '',
    delimiter: request.query.get('delimiter') ?? '',
    maxKeys: integerParam(request, 'max-keys', { min: 0, max: MAX_KEYS, fallback: MAX_KEYS }),
  };
}

function entries(result: ListResult, encode: (s: string) => string, withOwner: boolean): XmlNode {
  return {
    Contents: result.contents.map((o) => ({
      Key: encode(o.key),
      LastModified: isoTime(o.createdAt),
      ETag: o.etag,
      Size: o.size,
      StorageClass: 'STANDARD',
      Owner: withOwner ? OWNER : undefined,
    })),
    CommonPrefixes: result.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  };
}

/** With encoding-type=url, S3 URL-encodes keys and prefixes in the response (slashes stay). */
function encoder(request: S3Request): (text: string) => string {
  return request.query.get('encoding-type') === 'url' ? (text) => uriEncode(text, false) : (text) => text;
}

function isCommonPrefix(marker: string, prefix: string, delimiter: string): boolean {
  return delimiter !== '' && marker.startsWith(prefix) && marker.endsWith(delimiter) && marker.indexOf(delimiter, prefix.length) === marker.length - delimiter.length;
}

/** Tokens are opaque to clients: the last entry returned, and whether it was a common prefix. */
function encodeToken(result: ListResult, delimiter: string): string {
  const last = result.lastEntry ?? '';
  const isPrefix = delimiter !== '' && result.commonPrefixes.at(-1) === last;
  return toBase64(new TextEncoder().encode(JSON.stringify({ a: last, p: isPrefix })));
}

function decodeToken(token: string): { after: string; skipPrefix: string | undefined } {
  try {
    const bytes = fromBase64(token) ?? new Uint8Array();
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
    if (parsed && typeof parsed === 'object' && 'a' in parsed && typeof parsed.a === 'string') {
      const isPrefix = 'p' in parsed && parsed.p === true;
      return { after: parsed.a, skipPrefix: isPrefix ? parsed.a : undefined };
    }
  } catch {
    // fall through to the S3 error below
  }
  throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
    details: { ArgumentName: 'continuation-token' },
  });
}
