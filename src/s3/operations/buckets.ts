/** Bucket-level operations on the credential's one virtual bucket. */
import type { Handler } from '../dispatch-types.ts';
import { xmlResponse } from '../responses.ts';

/** The owner S3 reports; there is one, the orchestrator. */
export const OWNER = { ID: 's3-orchestrator', DisplayName: 's3-orchestrator' };
/** Virtual buckets exist as long as the config names them; report a fixed creation time. */
const BUCKET_CREATION = new Date(Date.UTC(2026, 0, 1)).toISOString();

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html - only the credential's own bucket. */
export const ListBuckets: Handler = async (_services, _request, auth) =>
  xmlResponse('ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: [{ Name: auth.bucket, CreationDate: BUCKET_CREATION }] },
  });

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html */
export const HeadBucket: Handler = async () =>
  new Response(null, { status: 200, headers: { 'x-amz-bucket-region': 'us-east-1', 'content-type': 'application/xml' } });

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketLocation.html - empty means us-east-1. */
export const GetBucketLocation: Handler = async () =>
  new Response(
    '<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>',
    { headers: { 'content-type': 'application/xml' } },
  );

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html - versioning is never enabled. */
export const GetBucketVersioning: Handler = async () =>
  new Response(
    '<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>',
    { headers: { 'content-type': 'application/xml' } },
  );
