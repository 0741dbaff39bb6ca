/**
 * The one S3 dispatch table: method + addressing level + sub-resource -> operation.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
 */
import type { Handler } from './dispatch-types.ts';
import { S3Error } from './errors.ts';
import { GetBucketAcl, GetObjectAcl, PutBucketAcl, PutObjectAcl } from './operations/acl.ts';
import { GetBucketLocation, GetBucketVersioning, HeadBucket, ListBuckets } from './operations/buckets.ts';
import { CopyObject } from './operations/copy.ts';
import {
  AbortMultipartUpload,
  CompleteMultipartUpload,
  CreateMultipartUpload,
  ListMultipartUploads,
  ListParts,
  UploadPart,
  UploadPartCopy,
} from './operations/multipart.ts';
import { DeleteObjects } from './operations/delete-batch.ts';
import { ListObjects, ListObjectsV2 } from './operations/list.ts';
import { GetObjectAttributes } from './operations/object-attributes.ts';
import { GetObject, HeadObject } from './operations/objects-read.ts';
import { DeleteObject, PutObject } from './operations/objects-write.ts';
import type { S3Request } from './request.ts';

type Level = 'service' | 'bucket' | 'object';

interface Route {
  operation: string;
  method: string;
  level: Level;
  /** Query parameters that select the operation (all must be present), optionally one with a required value. */
  subresources?: readonly string[];
  value?: string;
  /** Selected by the presence of x-amz-copy-source (CopyObject, UploadPartCopy). */
  copySource?: boolean;
  handler: Handler;
}

const ROUTES: readonly Route[] = [
  { operation: 'ListBuckets', method: 'GET', level: 'service', handler: ListBuckets },
  { operation: 'HeadBucket', method: 'HEAD', level: 'bucket', handler: HeadBucket },
  { operation: 'GetBucketVersioning', method: 'GET', level: 'bucket', subresources: ['versioning'], handler: GetBucketVersioning },
  { operation: 'GetBucketLocation', method: 'GET', level: 'bucket', subresources: ['location'], handler: GetBucketLocation },
  { operation: 'GetBucketAcl', method: 'GET', level: 'bucket', subresources: ['acl'], handler: GetBucketAcl },
  { operation: 'PutBucketAcl', method: 'PUT', level: 'bucket', subresources: ['acl'], handler: PutBucketAcl },
  { operation: 'ListObjectsV2', method: 'GET', level: 'bucket', subresources: ['list-type'], value: '2', handler: ListObjectsV2 },
  { operation: 'ListObjects', method: 'GET', level: 'bucket', handler: ListObjects },
  { operation: 'DeleteObjects', method: 'POST', level: 'bucket', subresources: ['delete'], handler: DeleteObjects },
  { operation: 'ListMultipartUploads', method: 'GET', level: 'bucket', subresources: ['uploads'], handler: ListMultipartUploads },
  { operation: 'CreateMultipartUpload', method: 'POST', level: 'object', subresources: ['uploads'], handler: CreateMultipartUpload },
  { operation: 'CompleteMultipartUpload', method: 'POST', level: 'object', subresources: ['uploadId'], handler: CompleteMultipartUpload },
  { operation: 'UploadPartCopy', method: 'PUT', level: 'object', subresources: ['partNumber', 'uploadId'], copySource: true, handler: UploadPartCopy },
  { operation: 'UploadPart', method: 'PUT', level: 'object', subresources: ['partNumber', 'uploadId'], handler: UploadPart },
  { operation: 'AbortMultipartUpload', method: 'DELETE', level: 'object', subresources: ['uploadId'], handler: AbortMultipartUpload },
  { operation: 'ListParts', method: 'GET', level: 'object', subresources: ['uploadId'], handler: ListParts },
  { operation: 'GetObjectAcl', method: 'GET', level: 'object', subresources: ['acl'], handler: GetObjectAcl },
  { operation: 'PutObjectAcl', method: 'PUT', level: 'object', subresources: ['acl'], handler: PutObjectAcl },
  { operation: 'CopyObject', method: 'PUT', level: 'object', copySource: true, handler: CopyObject },
  { operation: 'PutObject', method: 'PUT', level: 'object', handler: PutObject },
  { operation: 'GetObjectAttributes', method: 'GET', level: 'object', subresources: ['attributes'], handler: GetObjectAttributes },
  { operation: 'GetObject', method: 'GET', level: 'object', subresources: ['partNumber'], handler: GetObject },
  { operation: 'GetObject', method: 'GET', level: 'object', handler: GetObject },
  { operation: 'HeadObject', method: 'HEAD', level: 'object', subresources: ['partNumber'], handler: HeadObject },
  { operation: 'HeadObject', method: 'HEAD', level: 'object', handler: HeadObject },
  { operation: 'DeleteObject', method: 'DELETE', level: 'object', handler: DeleteObject },
];

/** S3 sub-resources: a request naming one we do not route must not fall through to a plain GET/PUT. */
const SUBRESOURCES = [
  'accelerate', 'acl', 'analytics', 'attributes', 'cors', 'delete', 'encryption', 'intelligent-tiering', 'inventory',
  'legal-hold', 'lifecycle', 'location', 'logging', 'metadataConfiguration', 'metadataInventoryTable',
  'metadataJournalTable', 'metadataTable', 'metrics', 'notification', 'object-lock', 'ownershipControls', 'partNumber',
  'policy', 'policyStatus', 'publicAccessBlock', 'renameObject', 'replication', 'requestPayment', 'restore',
  'retention', 'select', 'session', 'tagging', 'torrent', 'uploadId', 'uploads', 'versioning', 'versionId', 'versions',
  'website',
];

/** Operations that exist in S3 but have no meaning for virtual buckets defined by the configuration. */
const UNSUPPORTED: Record<string, string> = {
  'PUT bucket': 'CreateBucket',
  'DELETE bucket': 'DeleteBucket',
};

export interface ResolvedRoute {
  operation: string;
  handler: Handler;
}

export function resolveRoute(request: S3Request): ResolvedRoute {
  const level: Level = request.bucket === undefined ? 'service' : request.key === undefined ? 'bucket' : 'object';
  const method = request.method === 'HEAD' || request.method === 'GET' ? request.method : request.method.toUpperCase();
  const named = SUBRESOURCES.filter((name) => request.query.has(name));
  for (const route of ROUTES) {
    if (route.method !== method || route.level !== level) continue;
    if (route.copySource && !request.headers.has('x-amz-copy-source')) continue;
    const selectors = route.subresources ?? [];
    if (!selectors.every((name) => request.query.has(name))) continue;
    if (route.value !== undefined && request.query.get(selectors[0] ?? '') !== route.value) continue;
    const unrouted = named.filter((name) => !selectors.includes(name));
    if (unrouted.length > 0) continue;
    return { operation: route.operation, handler: route.handler };
  }
  const unsupported = UNSUPPORTED[`${method} ${level}`];
  if (unsupported) {
    throw new S3Error('NotImplemented', `${unsupported} is not supported: virtual buckets come from the configuration`);
  }
  if (named.length > 0) {
    throw new S3Error('NotImplemented', `The ${named.join(', ')} sub-resource is not implemented for ${method} requests`);
  }
  if (level === 'service') throw new S3Error('MethodNotAllowed', `${method} is not allowed on the service`);
  throw new S3Error('MethodNotAllowed', `The specified method ${method} is not allowed against this resource.`, {
    details: { Method: method, ResourceType: level === 'bucket' ? 'BUCKET' : 'OBJECT' },
  });
}
