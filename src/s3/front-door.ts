/**
 * The S3 pipeline for one request: parse the addressing, authenticate, check the bucket, dispatch, and render any
 * failure as an S3 error document. Unhandled exceptions never reach the client as anything but InternalError.
 */
import { checkBucketAccess } from './bucket-access.ts';
import { databaseBusy } from '../store/database-gate.ts';
import { isDatabaseUnavailable } from '../store/db.ts';
import { MetadataMismatchError } from '../store/objects.ts';
import type { Config } from '../config/types.ts';
import { emitAudit } from '../observe/audit.ts';
import { errorFields } from '../observe/log.ts';
import { type CredentialLookup, authFailureToS3Error, authenticate } from './authenticate.ts';
import { applyContentSecurity } from './content-security.ts';
import { resolveRoute } from './dispatch.ts';
import { S3Error, isS3Error } from './errors.ts';
import { isRefusal } from '../objects/refusal.ts';
import { s3ErrorOf } from './refusals.ts';
import { parseS3Request } from './request.ts';
import { errorResponse } from './responses.ts';
import { type S3Mutation, isMutation, s3AuditRecord } from './s3-audit.ts';
import { s3Notification } from './s3-notifications.ts';
import type { Services } from '../services/services.ts';
import { discardUnreadBody } from '../util/discard-body.ts';

export async function handleS3(request: Request, services: Services, credentials: CredentialLookup): Promise<Response> {
  const url = new URL(request.url);
  let response: Response;
  let operation = 'unknown';
  let mutation: S3Mutation | undefined;
  try {
    const s3 = parseS3Request(request, services.config.server.baseDomains);
    const result = await services.timing.time('auth', () =>
      authenticate(request, credentials, {
        now: services.now(),
        clockSkewSeconds: services.config.server.clockSkewSeconds,
        regions: services.config.server.regions,
        signingKeys: services.memory.signingKeys,
      }),
    );
    if (!result.ok) {
      services.log.info('request refused', { reason: result.failure.reason, path: url.pathname });
      throw authFailureToS3Error(result.failure);
    }
    if (s3.bucket !== undefined) checkBucketAccess(services.config, result.auth.bucket, s3.bucket);
    const route = resolveRoute(s3);
    operation = route.operation;
    services.timing.operation = operation;
    if (isMutation(operation)) mutation = { operation, request: s3, accessKeyId: result.auth.accessKeyId };
    response = await route.handler(services, s3, result.auth);
  } catch (err) {
    response = errorResponse(toS3Error(err, services), services.requestId, url.pathname, request.method);
    await discardUnreadBody(request);
  }
  services.log.debug('s3 request', { operation, method: request.method, status: response.status });
  if (mutation) {
    const record = s3AuditRecord(mutation, response, services.requestId);
    emitAudit(services, record);
    const event = s3Notification(mutation.operation, mutation.request, record);
    if (event) services.notify.emit(event);
  }
  return withRequestId(response, services.requestId);
}

function toS3Error(err: unknown, services: Services): S3Error {
  if (isS3Error(err)) return err;
  if (isRefusal(err)) return s3ErrorOf(err);
  if (databaseBusy(err)) {
    // Load shedding (database-gate.ts): fast, and retryable after a pause.
    return new S3Error('SlowDown', 'Please reduce your request rate.', { headers: { 'retry-after': '1' } });
  }
  if (isDatabaseUnavailable(err)) {
    services.log.error('metadata store unavailable', errorFields(err));
    return new S3Error('ServiceUnavailable', 'The metadata store is unavailable; please retry');
  }
  if (err instanceof MetadataMismatchError) {
    services.log.error('metadata store answered for another key; request refused', errorFields(err));
    return new S3Error('ServiceUnavailable', 'The metadata store gave an inconsistent answer; please retry');
  }
  services.log.error('unhandled error', { ...errorFields(err), stack: err instanceof Error ? err.stack : undefined });
  return new S3Error('InternalError', 'We encountered an internal error. Please try again.');
}

/**
 * The headers every S3 response carries: its request id and the content-security ones. Every response we build
 * has mutable headers; re-wrapping a streamed body could lose its length.
 */
export function withRequestId(response: Response, requestId: string): Response {
  response.headers.set('x-amz-request-id', requestId);
  response.headers.set('x-amz-id-2', requestId);
  return applyContentSecurity(response);
}

/** Access key -> secret and bucket, built once per config. */
export function credentialIndex(config: Config): CredentialLookup {
  const index = new Map<string, { secretAccessKey: string; bucket: string }>();
  for (const bucket of config.buckets) {
    for (const cred of bucket.credentials) index.set(cred.accessKeyId, { secretAccessKey: cred.secretAccessKey, bucket: bucket.name });
  }
  return (accessKeyId) => index.get(accessKeyId);
}
