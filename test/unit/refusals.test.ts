/** The one switch from domain refusals to S3 errors. */
import { describe, expect, it } from 'vitest';
import { Refusal, isRequestFault } from '../../src/objects/refusal.ts';
import { S3Error } from '../../src/s3/errors.ts';
import { s3ErrorOf } from '../../src/s3/refusals.ts';

describe('s3ErrorOf', () => {
  it('maps reasons to the S3 codes and statuses clients expect, keeping message, details and headers', () => {
    const range = s3ErrorOf(new Refusal('range-not-satisfiable', 'nope', { details: { ActualObjectSize: '5' }, headers: { 'content-range': 'bytes */5' } }));
    expect([range.code, range.status, range.message, range.details, range.headers]).toEqual(['InvalidRange', 416, 'nope', { ActualObjectSize: '5' }, { 'content-range': 'bytes */5' }]);
    expect([s3ErrorOf(new Refusal('no-such-object', 'x')).code, s3ErrorOf(new Refusal('no-such-object', 'x')).status]).toEqual(['NoSuchKey', 404]);
    expect([s3ErrorOf(new Refusal('no-room', 'x')).code, s3ErrorOf(new Refusal('no-room', 'x')).status]).toEqual(['InsufficientStorage', 507]);
    // Both are SlowDown to S3 clients; a monthly usage limit answers 429, too many uploads 503.
    expect(s3ErrorOf(new Refusal('usage-limit', 'x')).status).toBe(429);
    expect(s3ErrorOf(new Refusal('too-many-uploads', 'x')).status).toBe(503);
    expect(s3ErrorOf(new Refusal('unavailable', 'x')).code).toBe('ServiceUnavailable');
  });

  it("counts refusals and the protocol's errors about a request (an aws-chunked signature) as request faults, nothing else", () => {
    expect(isRequestFault(new Refusal('digest-mismatch', 'x'))).toBe(true);
    expect(isRequestFault(new S3Error('SignatureDoesNotMatch', 'x'))).toBe(true);
    expect(isRequestFault(new Error('socket hang up'))).toBe(false);
    expect(isRequestFault(undefined)).toBe(false);
  });
});
