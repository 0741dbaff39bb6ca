/**
 * The S3 surface's audit trail: one record per data mutation by a client, written by the front door once the
 * answer's status is known, whatever it is (a refused PUT is audited too). Reads and listings are not.
 * The record names the client by its access key id; the secret, the signature and the body never reach it.
 */
import { type AuditRecord, knownParams, outcomeOf } from '../observe/audit.ts';
import type { S3Request } from './request.ts';

/** The operations that change stored data (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html). */
const MUTATIONS = new Set([
  'PutObject',
  'CopyObject',
  'DeleteObject',
  'DeleteObjects',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
]);

export function isMutation(operation: string): boolean {
  return MUTATIONS.has(operation);
}

/** What the front door knows of an authenticated mutation before it runs. */
export interface S3Mutation {
  operation: string;
  request: S3Request;
  accessKeyId: string;
}

export function s3AuditRecord(mutation: S3Mutation, response: Response, requestId: string): AuditRecord {
  const { request } = mutation;
  const params = knownParams({
    bucket: request.bucket,
    key: request.key,
    size: bodySize(mutation),
    etag: response.headers.get('etag') ?? undefined,
    upload_id: request.query.get('uploadId'),
    part_number: request.query.has('partNumber') ? Number(request.query.get('partNumber')) : undefined,
    copy_source: request.headers.get('x-amz-copy-source') ?? undefined,
    ...request.audit,
  });
  return { event: `s3.${mutation.operation}`, request_id: requestId, actor: mutation.accessKeyId, params, status: response.status, outcome: outcomeOf(response.status) };
}

/** The bytes a PutObject or UploadPart carried: the decoded length of an aws-chunked body, else Content-Length. */
function bodySize({ operation, request }: S3Mutation): number | undefined {
  if (operation !== 'PutObject' && operation !== 'UploadPart') return undefined;
  const declared = request.headers.get('x-amz-decoded-content-length') ?? request.headers.get('content-length');
  return declared !== null && /^\d+$/.test(declared) ? Number(declared) : undefined;
}
