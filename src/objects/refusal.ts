/**
 * Why the domain refused a request or could not carry it out, as typed reasons. The protocol maps each reason to
 * its own error in one place (S3: src/s3/refusals.ts), so domain code never speaks S3 error codes.
 */
export type RefusalReason =
  /** The object, the upload, the part number or the byte range asked for does not exist. */
  | 'no-such-object'
  | 'no-such-upload'
  | 'no-such-part'
  | 'range-not-satisfiable'
  /** A conditional request whose condition does not hold, or a condition form that is not supported. */
  | 'precondition-failed'
  | 'unsupported-condition'
  /** What the request sent does not add up: digests, lengths, part lists, sizes. */
  | 'digest-mismatch'
  | 'signed-hash-mismatch'
  | 'body-length-mismatch'
  | 'invalid-request'
  | 'too-large'
  | 'part-too-small'
  | 'unknown-part'
  | 'parts-out-of-order'
  | 'malformed-part-list'
  /** Capacity and health: no backend has room, a backend failed or is busy, a limit was reached. */
  | 'no-room'
  | 'unavailable'
  | 'too-many-uploads'
  | 'usage-limit'
  | 'internal';

export class Refusal extends Error {
  readonly reason: RefusalReason;
  /** Facts a client may be told (sizes, part numbers), by name. */
  readonly details: Record<string, string>;
  /** Facts that travel as response headers where the protocol has them (a 416's Content-Range). */
  readonly headers: Record<string, string>;

  constructor(reason: RefusalReason, message: string, opts: { details?: Record<string, string>; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'Refusal';
    this.reason = reason;
    this.details = opts.details ?? {};
    this.headers = opts.headers ?? {};
  }
}

export function isRefusal(err: unknown): err is Refusal {
  return err instanceof Refusal;
}

/**
 * Marks errors raised outside the domain about the request itself (the protocol decoding a client's body, such as a
 * chunk signature that does not chain): the domain passes them on as they are, like its own refusals, instead of
 * blaming the backend whose upload they cut short.
 */
export const REQUEST_FAULT: unique symbol = Symbol.for('s3-orchestrator.request-fault');

/** A refusal, or an error the protocol raised about the request. */
export function isRequestFault(err: unknown): err is Error {
  return isRefusal(err) || (err instanceof Error && REQUEST_FAULT in err);
}
