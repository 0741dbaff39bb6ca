/** PutObject and DeleteObject. */
import { base64ToHex } from '../../objects/upload-pump.ts';
import { deleteObject } from '../../objects/delete-object.ts';
import { putObject } from '../../objects/put-object.ts';
import type { Handler } from '../dispatch-types.ts';
import { S3Error } from '../errors.ts';
import { requireKey } from '../request-fields.ts';
import { UNSIGNED_PAYLOAD } from '../sigv4.ts';

/** Content headers S3 stores with the object and returns on GET/HEAD. */
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
/** https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata */
const MAX_METADATA_BYTES = 2048;

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html */
export const PutObject: Handler = async (services, request, auth) => {
  const key = requireKey(request);
  const size = contentLength(request.headers);
  if (size > services.config.server.maxObjectSize) {
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size.', {
      details: { ProposedSize: String(size), MaxSizeAllowed: String(services.config.server.maxObjectSize) },
    });
  }
  const sha256 = payloadSha256(auth.payloadHash);
  const md5Base64 = contentMd5(request.headers);
  const metadata = userMetadata(request.headers);
  const result = await putObject(services, {
    bucket: auth.bucket,
    key,
    body: request.body ?? new ReadableStream({ start: (c) => c.close() }),
    size,
    contentType: request.headers.get('content-type') || 'application/octet-stream',
    metadata,
    headers: storedHeaders(request.headers),
    expect: { sha256, md5Base64 },
  });
  return new Response(null, { status: 200, headers: { etag: result.etag } });
};

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html - 204 whether or not the key existed. */
export const DeleteObject: Handler = async (services, request, auth) => {
  await deleteObject(services, auth.bucket, requireKey(request));
  return new Response(null, { status: 204 });
};

function contentLength(headers: Headers): number {
  const value = headers.get('content-length');
  if (value === null) {
    throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.');
  }
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new S3Error('InvalidArgument', 'Content-Length must be a non-negative integer');
  }
  return Number(value);
}

function payloadSha256(payloadHash: string): string | undefined {
  if (payloadHash === UNSIGNED_PAYLOAD) return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(payloadHash)) return payloadHash;
  if (payloadHash.startsWith('STREAMING-')) {
    throw new S3Error('NotImplemented', `x-amz-content-sha256 ${payloadHash} (aws-chunked uploads) is not supported yet`);
  }
  throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256 hex digest', {
    details: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash },
  });
}

function contentMd5(headers: Headers): string | undefined {
  const value = headers.get('content-md5');
  if (value === null) return undefined;
  if (base64ToHex(value)?.length !== 32) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
  return value;
}

/** x-amz-meta-* with names lower-cased; printable ASCII only, at most 2 KiB of names and values together. */
export function userMetadata(headers: Headers): Record<string, string> {
  const metadata: Record<string, string> = {};
  let total = 0;
  headers.forEach((value, name) => {
    if (!name.startsWith('x-amz-meta-')) return;
    const short = name.slice('x-amz-meta-'.length);
    if (!/^[\x20-\x7e]*$/.test(value)) {
      throw new S3Error('InvalidArgument', `Metadata value for ${name} must be printable ASCII`, {
        details: { ArgumentName: name },
      });
    }
    total += short.length + value.length;
    metadata[short] = value;
  });
  if (total > MAX_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', 'Your metadata headers exceed the maximum allowed metadata size.', {
      details: { MaxSizeAllowed: String(MAX_METADATA_BYTES), Size: String(total) },
    });
  }
  return metadata;
}

function storedHeaders(headers: Headers): Record<string, string> {
  const stored: Record<string, string> = {};
  for (const name of STORED_HEADERS) {
    const value = headers.get(name);
    if (value !== null) stored[name] = value;
  }
  return stored;
}
