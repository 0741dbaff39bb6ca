/**
 * The one S3 error type and the table of AWS error codes it may carry.
 * Codes and statuses follow https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
 */
import { REQUEST_FAULT } from '../objects/refusal.ts';

const STATUS_BY_CODE = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  IncompleteBody: 400,
  InsufficientStorage: 507,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidChunkSizeError: 403,
  InvalidPartNumber: 416,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MetadataTooLarge: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  SlowDown: 503,
  XAmzContentSHA256Mismatch: 400,
} as const;

export type S3ErrorCode = keyof typeof STATUS_BY_CODE;

export class S3Error extends Error {
  /** The domain passes S3 errors raised about a request (its body's framing, signatures) on as they are. */
  readonly [REQUEST_FAULT] = true;
  readonly code: S3ErrorCode;
  readonly status: number;
  /** Extra child elements AWS puts in the error document (e.g. MaxSizeAllowed). */
  readonly details: Record<string, string>;
  /** Extra response headers (e.g. Content-Range on 416). */
  readonly headers: Record<string, string>;

  constructor(
    code: S3ErrorCode,
    message: string,
    opts: { details?: Record<string, string>; headers?: Record<string, string>; status?: number } = {},
  ) {
    super(message);
    this.name = 'S3Error';
    this.code = code;
    this.status = opts.status ?? STATUS_BY_CODE[code];
    this.details = opts.details ?? {};
    this.headers = opts.headers ?? {};
  }
}

export function isS3Error(err: unknown): err is S3Error {
  return err instanceof S3Error;
}
