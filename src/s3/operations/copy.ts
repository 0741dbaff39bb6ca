/** CopyObject. https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html */
import { checkBucketAccess } from '../bucket-access.ts';
import { copyObject } from '../../objects/copy-object.ts';
import { evaluateReadConditions } from '../../objects/conditions.ts';
import { conditionTarget, lookupObject } from '../../objects/read-object.ts';
import type { Handler } from '../dispatch-types.ts';
import { S3Error } from '../errors.ts';
import { requireKey } from '../request-fields.ts';
import { isoTime, xmlResponse } from '../responses.ts';
import { storedHeaders, userMetadata } from './objects-write.ts';

/** S3's limit for a single CopyObject; larger objects need UploadPartCopy. */
const MAX_COPY_BYTES = 5 * 1024 ** 3;

export const CopyObject: Handler = async (services, request, auth) => {
  const key = requireKey(request);
  const sourceRef = parseCopySource(request.headers.get('x-amz-copy-source') ?? '');
  checkBucketAccess(services.config, auth.bucket, sourceRef.bucket);
  const directive = (request.headers.get('x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.', { details: { ArgumentName: 'x-amz-metadata-directive', ArgumentValue: directive } });
  }
  if (sourceRef.key === key && directive === 'COPY') {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  const source = await lookupObject(services, auth.bucket, sourceRef.key);
  // x-amz-copy-source-if-* use the GET rules, except that "not modified" also fails the copy.
  if (evaluateReadConditions(copySourceConditions(request.headers), conditionTarget(source)) === 'not-modified') {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      details: { Condition: 'x-amz-copy-source-If-None-Match / If-Modified-Since' },
    });
  }
  if (source.size > MAX_COPY_BYTES) {
    throw new S3Error('InvalidRequest', `The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_COPY_BYTES}`);
  }
  const replace = directive === 'REPLACE';
  const result = await copyObject(services, source, {
    bucket: auth.bucket,
    key,
    contentType: replace ? request.headers.get('content-type') || 'application/octet-stream' : source.contentType,
    metadata: replace ? userMetadata(request.headers) : source.metadata,
    headers: replace ? storedHeaders(request.headers) : source.headers,
  });
  request.audit.etag = result.etag;
  request.audit.size = source.size;
  return xmlResponse('CopyObjectResult', { LastModified: isoTime(result.lastModified), ETag: result.etag });
};

/** `/bucket/key` or `bucket/key`, URL-encoded, optionally with `?versionId=` (only the null version exists). */
export function parseCopySource(header: string): { bucket: string; key: string } {
  const [path = '', query = ''] = header.split('?', 2);
  const version = /(?:^|&)versionId=([^&]*)/.exec(query)?.[1];
  if (version !== undefined && version !== 'null') {
    throw new S3Error('NoSuchVersion', 'The specified version does not exist.', { details: { VersionId: version } });
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(path.replace(/^\//, ''));
  } catch {
    throw invalidCopySource();
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) throw invalidCopySource();
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

function invalidCopySource(): S3Error {
  return new S3Error('InvalidArgument', 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', {
    details: { ArgumentName: 'x-amz-copy-source' },
  });
}

/** x-amz-copy-source-if-* as the plain conditional headers the read rules understand. */
export function copySourceConditions(headers: Headers): Headers {
  const mapped = new Headers();
  for (const name of ['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since']) {
    const value = headers.get(`x-amz-copy-source-${name}`);
    if (value !== null) mapped.set(name, value);
  }
  return mapped;
}
