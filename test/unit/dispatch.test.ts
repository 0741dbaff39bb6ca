/**
 * The dispatch table against the request shapes of S3's operations (method, addressing level, selecting query
 * parameters and headers, from each operation's page in the API reference): every operation is either routed to
 * its handler or refused by name, never served by another operation's handler.
 */
import { describe, expect, it } from 'vitest';
import { resolveRoute } from '../../src/s3/dispatch.ts';
import { isS3Error } from '../../src/s3/errors.ts';
import { parseS3Request } from '../../src/s3/request.ts';

function route(method: string, path: string, headers: Record<string, string> = {}): string {
  try {
    return resolveRoute(parseS3Request(new Request(`http://s3.test${path}`, { method, headers }))).operation;
  } catch (err) {
    if (isS3Error(err)) return `${err.status} ${err.code}`;
    throw err;
  }
}

const COPY = { 'x-amz-copy-source': '/b/src' };

describe('resolveRoute', () => {
  it('routes the operations the orchestrator implements', () => {
    const implemented: [string, string, string, Record<string, string>?][] = [
      ['ListBuckets', 'GET', '/'],
      ['HeadBucket', 'HEAD', '/b'],
      ['GetBucketLocation', 'GET', '/b?location'],
      ['GetBucketVersioning', 'GET', '/b?versioning'],
      ['GetBucketAcl', 'GET', '/b?acl'],
      ['PutBucketAcl', 'PUT', '/b?acl'],
      ['ListObjects', 'GET', '/b'],
      ['ListObjects', 'GET', '/b?prefix=a&marker=b&encoding-type=url'],
      ['ListObjectsV2', 'GET', '/b?list-type=2'],
      ['DeleteObjects', 'POST', '/b?delete'],
      ['ListMultipartUploads', 'GET', '/b?uploads'],
      ['PutObject', 'PUT', '/b/k'],
      ['CopyObject', 'PUT', '/b/k', COPY],
      ['GetObject', 'GET', '/b/k'],
      ['HeadObject', 'HEAD', '/b/k'],
      ['GetObject', 'GET', '/b/k?partNumber=2'],
      ['HeadObject', 'HEAD', '/b/k?partNumber=2'],
      ['GetObjectAttributes', 'GET', '/b/k?attributes'],
      ['DeleteObject', 'DELETE', '/b/k'],
      ['GetObjectAcl', 'GET', '/b/k?acl'],
      ['PutObjectAcl', 'PUT', '/b/k?acl'],
      ['CreateMultipartUpload', 'POST', '/b/k?uploads'],
      ['UploadPart', 'PUT', '/b/k?partNumber=1&uploadId=u'],
      ['UploadPartCopy', 'PUT', '/b/k?partNumber=1&uploadId=u', COPY],
      ['CompleteMultipartUpload', 'POST', '/b/k?uploadId=u'],
      ['AbortMultipartUpload', 'DELETE', '/b/k?uploadId=u'],
      ['ListParts', 'GET', '/b/k?uploadId=u'],
    ];
    for (const [operation, method, path, headers] of implemented) expect(route(method, path, headers), `${method} ${path}`).toBe(operation);
  });

  it('refuses the operations it does not implement with 501 NotImplemented, never with another operation', () => {
    const refused: [string, string][] = [
      ['PUT', '/b'], // CreateBucket
      ['DELETE', '/b'], // DeleteBucket
      ['GET', '/b?session'], // CreateSession
      ['GET', '/b?versions'], // ListObjectVersions
      ['GET', '/b/k?versionId=v1'],
      ['DELETE', '/b/k?versionId=v1'],
      ['GET', '/b/k?tagging'],
      ['PUT', '/b/k?tagging'],
      ['DELETE', '/b/k?tagging'],
      ['GET', '/b/k?torrent'],
      ['GET', '/b/k?legal-hold'],
      ['PUT', '/b/k?retention'],
      ['POST', '/b/k?restore'],
      ['POST', '/b/k?select&select-type=2'],
      ['PUT', '/b/k?renameObject'],
      ['GET', '/b?object-lock'],
      ['PUT', '/b?versioning'],
      ['GET', '/b?metadataTable'],
      ['POST', '/b?metadataConfiguration'],
      ...['accelerate', 'analytics', 'cors', 'encryption', 'intelligent-tiering', 'inventory', 'lifecycle', 'logging', 'metrics', 'notification', 'ownershipControls', 'policy', 'policyStatus', 'publicAccessBlock', 'replication', 'requestPayment', 'tagging', 'website'].flatMap(
        (sub): [string, string][] => [
          ['GET', `/b?${sub}`],
          ['PUT', `/b?${sub}`],
          ['DELETE', `/b?${sub}`],
        ],
      ),
    ];
    for (const [method, path] of refused) expect(route(method, path), `${method} ${path}`).toBe('501 NotImplemented');
  });

  it('answers 405 for a method the resource does not take (PostObject browser uploads included)', () => {
    expect(route('POST', '/b')).toBe('405 MethodNotAllowed');
    expect(route('POST', '/b/k')).toBe('405 MethodNotAllowed');
    expect(route('PUT', '/')).toBe('405 MethodNotAllowed');
  });
});
