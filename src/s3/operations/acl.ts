/**
 * ACLs. Virtual buckets have one owner and no grants: every bucket and object reads as the canned `private` ACL
 * (the owner has FULL_CONTROL), and setting exactly that is accepted and changes nothing. Any other ACL would be a
 * promise the orchestrator cannot keep, so it is refused as not implemented.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAcl.html
 */
import { lookupObject } from '../../objects/read-object.ts';
import type { Handler } from '../dispatch-types.ts';
import { S3Error } from '../errors.ts';
import type { S3Request } from '../request.ts';
import { requireKey } from '../request-fields.ts';
import { S3_XMLNS, escapeXml } from '../../util/xml.ts';
import { OWNER } from './buckets.ts';

export const GetBucketAcl: Handler = async () => privateAcl();

export const GetObjectAcl: Handler = async (services, request, auth) => {
  await lookupObject(services, auth.bucket, requireKey(request));
  return privateAcl();
};

export const PutBucketAcl: Handler = async (_services, request) => {
  requireCannedPrivate(request);
  return new Response(null, { status: 200 });
};

export const PutObjectAcl: Handler = async (services, request, auth) => {
  requireCannedPrivate(request);
  await lookupObject(services, auth.bucket, requireKey(request));
  return new Response(null, { status: 200 });
};

const GRANT_HEADERS = ['x-amz-grant-full-control', 'x-amz-grant-read', 'x-amz-grant-read-acp', 'x-amz-grant-write', 'x-amz-grant-write-acp'];

function requireCannedPrivate(request: S3Request): void {
  const canned = request.headers.get('x-amz-acl')?.trim().toLowerCase();
  const grants = GRANT_HEADERS.filter((name) => request.headers.has(name));
  const body = Number(request.headers.get('content-length') ?? '0') > 0 || request.headers.has('transfer-encoding');
  if (canned === 'private' && grants.length === 0 && !body) return;
  throw new S3Error('NotImplemented', 'Only the canned private ACL is supported: buckets and objects have one owner and no grants', {
    details: { Header: canned !== undefined ? 'x-amz-acl' : (grants[0] ?? 'AccessControlPolicy') },
  });
}

function privateAcl(): Response {
  // Written by hand: the grantee carries an xsi:type attribute, which the element builder does not express.
  const owner = `<ID>${escapeXml(OWNER.ID)}</ID><DisplayName>${escapeXml(OWNER.DisplayName)}</DisplayName>`;
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="${S3_XMLNS}"><Owner>${owner}</Owner><AccessControlList>` +
    `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">${owner}</Grantee>` +
    `<Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`;
  return new Response(body, { headers: { 'content-type': 'application/xml' } });
}
