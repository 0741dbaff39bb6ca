/** PutObject and DeleteObject. */
import { deleteObject } from '../../objects/delete-object.ts';
import { writeCondition } from '../../objects/conditions.ts';
import { putObject } from '../../objects/put-object.ts';
import type { Handler } from '../dispatch-types.ts';
import { S3Error } from '../errors.ts';
import { requireKey } from '../request-fields.ts';
import { storedContentEncoding, uploadBody } from '../upload-body.ts';

/** Content headers S3 stores with the object and returns on GET/HEAD. */
const STORED_HEADERS = ['cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires'] as const;
/** https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html#UserMetadata */
const MAX_METADATA_BYTES = 2048;

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html */
export const PutObject: Handler = async (services, request, auth) => {
  const key = requireKey(request);
  const upload = uploadBody(request, auth);
  if (upload.size > services.config.server.maxObjectSize) {
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size.', {
      details: { ProposedSize: String(upload.size), MaxSizeAllowed: String(services.config.server.maxObjectSize) },
    });
  }
  const metadata = userMetadata(request.headers);
  const result = await putObject(services, {
    bucket: auth.bucket,
    key,
    source: upload.source,
    size: upload.size,
    contentType: request.headers.get('content-type') || 'application/octet-stream',
    metadata,
    headers: storedHeaders(request.headers),
    expect: upload.expect,
    condition: writeCondition(request.headers),
  });
  const headers = new Headers({ etag: result.etag });
  if (result.checksum) headers.set(`x-amz-checksum-${result.checksum.algorithm}`, result.checksum.value);
  return new Response(null, { status: 200, headers });
};

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html - 204 whether or not the key existed. */
export const DeleteObject: Handler = async (services, request, auth) => {
  await deleteObject(services, auth.bucket, requireKey(request));
  return new Response(null, { status: 204 });
};

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

/**
 * The content headers stored with the object. They are kept in its record and returned on every GET and HEAD, so
 * like user metadata they get a budget: names and values (Content-Type included) at most 2 KiB together.
 */
export function storedHeaders(headers: Headers): Record<string, string> {
  const stored: Record<string, string> = {};
  let total = (headers.get('content-type') ?? '').length;
  for (const name of STORED_HEADERS) {
    const value = name === 'content-encoding' ? storedContentEncoding(headers) : headers.get(name);
    if (value === null || value === undefined) continue;
    stored[name] = value;
    total += name.length + value.length;
  }
  if (total > MAX_METADATA_BYTES) {
    throw new S3Error('MetadataTooLarge', 'Your content headers (Content-Type, Content-Disposition, Cache-Control, ...) exceed the maximum allowed size.', {
      details: { MaxSizeAllowed: String(MAX_METADATA_BYTES), Size: String(total) },
    });
  }
  return stored;
}
