/**
 * Which bucket a signed request may name: only its credential's. As in S3, a bucket that does not exist answers
 * NoSuchBucket (only signed callers learn that), and one that exists but belongs to others answers AccessDenied.
 */
import type { Config } from '../config/types.ts';
import { S3Error } from './errors.ts';

export function checkBucketAccess(config: Pick<Config, 'buckets'>, credentialBucket: string, bucket: string): void {
  if (bucket === credentialBucket) return;
  if (!config.buckets.some((b) => b.name === bucket)) {
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { details: { BucketName: bucket } });
  }
  throw new S3Error('AccessDenied', 'Access Denied');
}
