/** The one switch from the domain's refusal reasons to S3 error codes (and statuses where S3 varies them). */
import { type Refusal, type RefusalReason } from '../objects/refusal.ts';
import { S3Error, type S3ErrorCode } from './errors.ts';

const S3_ERRORS: Record<RefusalReason, { code: S3ErrorCode; status?: number }> = {
  'no-such-object': { code: 'NoSuchKey' },
  'no-such-upload': { code: 'NoSuchUpload' },
  'no-such-part': { code: 'InvalidPartNumber' },
  'range-not-satisfiable': { code: 'InvalidRange' },
  'precondition-failed': { code: 'PreconditionFailed' },
  'unsupported-condition': { code: 'NotImplemented' },
  'digest-mismatch': { code: 'BadDigest' },
  'signed-hash-mismatch': { code: 'XAmzContentSHA256Mismatch' },
  'body-length-mismatch': { code: 'IncompleteBody' },
  'invalid-request': { code: 'InvalidRequest' },
  'too-large': { code: 'EntityTooLarge' },
  'part-too-small': { code: 'EntityTooSmall' },
  'unknown-part': { code: 'InvalidPart' },
  'parts-out-of-order': { code: 'InvalidPartOrder' },
  'malformed-part-list': { code: 'MalformedXML' },
  'no-room': { code: 'InsufficientStorage' },
  'unavailable': { code: 'ServiceUnavailable' },
  'too-many-uploads': { code: 'SlowDown' },
  // S3 answers throttling with 503; a read refused for a backend's monthly limit says 429 so clients back off longer.
  'usage-limit': { code: 'SlowDown', status: 429 },
  'internal': { code: 'InternalError' },
};

export function s3ErrorOf(refusal: Refusal): S3Error {
  const { code, status } = S3_ERRORS[refusal.reason];
  return new S3Error(code, refusal.message, { details: refusal.details, headers: refusal.headers, ...(status !== undefined && { status }) });
}
