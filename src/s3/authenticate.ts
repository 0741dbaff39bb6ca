/**
 * Who is calling: SigV4 in the Authorization header or in a presigned query. Returns the credential's bucket and
 * what the payload hash promises, or a rich failure reason that `authFailureToS3Error` maps to an S3 code.
 */
import {
  ALGORITHM,
  UNSIGNED_PAYLOAD,
  canonicalHeaders,
  canonicalQueryString,
  canonicalRequest,
  canonicalUriCandidates,
  parseAmzDate,
  parseRawQuery,
  signature,
  signingKey,
  type SigningKeyCache,
  stringToSign,
  timingSafeEqualText,
} from './sigv4.ts';
import { sha256Hex } from '../crypto/encoding.ts';
import { S3Error } from './errors.ts';

export interface CredentialEntry {
  secretAccessKey: string;
  bucket: string;
}

export type CredentialLookup = (accessKeyId: string) => CredentialEntry | undefined;

export interface Authenticated {
  accessKeyId: string;
  bucket: string;
  /** The x-amz-content-sha256 promise: a hex digest to verify, UNSIGNED-PAYLOAD, or a STREAMING-* mode. */
  payloadHash: string;
  /** What aws-chunked decoding needs to verify chunk signatures. */
  signing: { key: ArrayBuffer; scope: string; amzDate: string; seedSignature: string };
}

export type AuthFailure =
  | { reason: 'no-credentials' }
  | { reason: 'unsupported-algorithm'; detail: string }
  | { reason: 'malformed-authorization'; detail: string }
  | { reason: 'malformed-query'; detail: string }
  | { reason: 'missing-content-sha256' }
  | { reason: 'unknown-access-key' }
  | { reason: 'bad-signature' }
  | { reason: 'clock-skew'; requestTime: string; skewSeconds: number; allowedSeconds: number }
  | { reason: 'presign-expired'; expiredAt: string }
  | { reason: 'presign-not-yet-valid' }
  | { reason: 'unsigned-headers'; headers: string[] }
  | { reason: 'wrong-region'; region: string; expected: string; presigned: boolean }
  | { reason: 'duplicate-auth-parameter'; name: string }
  | { reason: 'two-auth-mechanisms' };

export type AuthResult = { ok: true; auth: Authenticated } | { ok: false; failure: AuthFailure };

/** Accept-Encoding values S3 clients sign, tried when the received (rewritten) value does not verify. */
const ORIGINAL_ACCEPT_ENCODINGS = ['gzip', 'identity', 'gzip, deflate', 'gzip, deflate, br', 'br', ''];

/** Secret used for unknown access keys so that they cost the same work as known ones. */
const DUMMY_SECRET = 'unknown-access-key-dummy-secret-0000000000';
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;
/** Query parameters that carry a presigned URL's authentication; each may appear once. */
const PRESIGN_PARAMETERS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
  'X-Amz-Content-Sha256',
];

interface SignedParts {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  payloadHash: string;
  presigned: boolean;
}

export async function authenticate(
  request: Request,
  lookup: CredentialLookup,
  opts: { now: number; clockSkewSeconds: number; regions: readonly string[]; signingKeys?: SigningKeyCache },
): Promise<AuthResult> {
  const url = new URL(request.url);
  const query = safeParseQuery(url.search);
  if (!query) return fail({ reason: 'malformed-query', detail: 'the query string has an invalid percent-encoding' });
  // A second X-Amz-Signature (or any auth parameter) would make "which one was checked" ambiguous.
  const duplicate = PRESIGN_PARAMETERS.find((name) => query.filter(([n]) => n === name).length > 1);
  if (duplicate) return fail({ reason: 'duplicate-auth-parameter', name: duplicate });
  const presigned = query.some(([name]) => name === 'X-Amz-Algorithm' || name === 'X-Amz-Signature' || name === 'X-Amz-Credential');
  if (presigned && request.headers.has('authorization')) return fail({ reason: 'two-auth-mechanisms' });
  const parsed = presigned ? parsePresigned(query, opts.now, opts.clockSkewSeconds) : parseAuthorizationHeader(request.headers, opts.now, opts.clockSkewSeconds);
  if (!parsed.ok) return parsed;
  const parts = parsed.parts;
  if (!opts.regions.includes(parts.region)) {
    return fail({ reason: 'wrong-region', region: parts.region, expected: opts.regions[0] ?? 'us-east-1', presigned: parts.presigned });
  }

  const unsigned = unsignedAmzHeaders(request.headers, parts.signedHeaders, parts.presigned);
  if (!parts.signedHeaders.includes('host')) {
    return fail({ reason: 'malformed-authorization', detail: 'the host header must be signed' });
  }
  if (unsigned.length > 0) return fail({ reason: 'unsigned-headers', headers: unsigned });

  let uris: string[];
  try {
    uris = canonicalUriCandidates(url.pathname);
  } catch {
    return fail({ reason: 'malformed-query', detail: 'the path has an invalid percent-encoding' });
  }
  const entry = lookup(parts.accessKeyId);
  const secret = entry?.secretAccessKey ?? DUMMY_SECRET;
  const scope = `${parts.date}/${parts.region}/${parts.service}/aws4_request`;
  const canonicalQuery = canonicalQueryString(query, parts.presigned ? 'X-Amz-Signature' : undefined);
  const key = await signingKey(secret, parts.date, parts.region, parts.service, entry !== undefined ? opts.signingKeys : undefined);
  const matchesWith = async (headers: Headers) => {
    for (const uri of uris) {
      const request_ = canonicalRequest({
        method: request.method,
        uri,
        query: canonicalQuery,
        headers: canonicalHeaders(headers, parts.signedHeaders),
        signedHeaders: parts.signedHeaders,
        payloadHash: parts.payloadHash,
      });
      const expected = await signature(key, stringToSign(parts.amzDate, scope, await sha256Hex(request_)));
      if (timingSafeEqualText(expected, parts.signature)) return true;
    }
    return false;
  };
  let matches = await matchesWith(request.headers);
  if (!entry) return fail({ reason: 'unknown-access-key' });
  // Cloudflare rewrites Accept-Encoding before the Worker sees it, so a client that signed it (aws-sdk-go v1,
  // and so rclone) cannot be checked against the value received; try the values such clients send.
  if (!matches && parts.signedHeaders.includes('accept-encoding')) {
    for (const original of ORIGINAL_ACCEPT_ENCODINGS) {
      const headers = new Headers(request.headers);
      headers.set('accept-encoding', original);
      if ((matches = await matchesWith(headers))) break;
    }
  }
  if (!matches) return fail({ reason: 'bad-signature' });
  return {
    ok: true,
    auth: {
      accessKeyId: parts.accessKeyId,
      bucket: entry.bucket,
      payloadHash: parts.payloadHash,
      signing: { key, scope, amzDate: parts.amzDate, seedSignature: parts.signature },
    },
  };
}

type PartsResult = { ok: true; parts: SignedParts } | { ok: false; failure: AuthFailure };

function parseAuthorizationHeader(headers: Headers, now: number, skewSeconds: number): PartsResult {
  const header = headers.get('authorization');
  if (!header) return fail({ reason: 'no-credentials' });
  const space = header.indexOf(' ');
  const algorithm = space < 0 ? header : header.slice(0, space);
  if (algorithm !== ALGORITHM) return fail({ reason: 'unsupported-algorithm', detail: algorithm });
  const fields = new Map<string, string>();
  for (const item of header.slice(space + 1).split(',')) {
    const eq = item.indexOf('=');
    if (eq > 0) fields.set(item.slice(0, eq).trim(), item.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const sig = fields.get('Signature');
  if (!credential || !signedHeaders || !sig) {
    return fail({ reason: 'malformed-authorization', detail: 'Credential, SignedHeaders and Signature are all required' });
  }
  const amzDate = headers.get('x-amz-date');
  if (!amzDate) return fail({ reason: 'malformed-authorization', detail: 'the x-amz-date header is required' });
  const payloadHash = headers.get('x-amz-content-sha256');
  if (!payloadHash) return fail({ reason: 'missing-content-sha256' });
  const scope = parseScope(credential, 'malformed-authorization');
  if (!scope.ok) return scope;
  const time = checkDate(amzDate, scope.date, 'malformed-authorization');
  if (!time.ok) return time;
  const skew = Math.abs(now - time.ms) / 1000;
  if (skew > skewSeconds) {
    return fail({ reason: 'clock-skew', requestTime: amzDate, skewSeconds: Math.round(skew), allowedSeconds: skewSeconds });
  }
  return {
    ok: true,
    parts: { ...scope, signedHeaders: signedHeaders.split(';'), signature: sig, amzDate, payloadHash, presigned: false },
  };
}

function parsePresigned(query: [string, string][], now: number, skewSeconds: number): PartsResult {
  const get = (name: string) => query.find(([n]) => n === name)?.[1];
  const algorithm = get('X-Amz-Algorithm') ?? '';
  if (algorithm !== ALGORITHM) return fail({ reason: 'unsupported-algorithm', detail: algorithm });
  const credential = get('X-Amz-Credential');
  const signedHeaders = get('X-Amz-SignedHeaders');
  const sig = get('X-Amz-Signature');
  const amzDate = get('X-Amz-Date');
  const expiresText = get('X-Amz-Expires');
  if (!credential || !signedHeaders || !sig || !amzDate || !expiresText) {
    return fail({
      reason: 'malformed-query',
      detail: 'X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature are all required',
    });
  }
  const scope = parseScope(credential, 'malformed-query');
  if (!scope.ok) return scope;
  const time = checkDate(amzDate, scope.date, 'malformed-query');
  if (!time.ok) return time;
  const expires = /^\d+$/.test(expiresText) ? Number(expiresText) : NaN;
  if (!(expires >= 1 && expires <= MAX_PRESIGN_SECONDS)) {
    return fail({ reason: 'malformed-query', detail: `X-Amz-Expires must be between 1 and ${MAX_PRESIGN_SECONDS} seconds` });
  }
  if (time.ms - now > skewSeconds * 1000) return fail({ reason: 'presign-not-yet-valid' });
  const expiresAt = time.ms + expires * 1000;
  if (now > expiresAt) return fail({ reason: 'presign-expired', expiredAt: new Date(expiresAt).toISOString() });
  return {
    ok: true,
    parts: {
      ...scope,
      signedHeaders: signedHeaders.split(';'),
      signature: sig,
      amzDate,
      payloadHash: get('X-Amz-Content-Sha256') ?? UNSIGNED_PAYLOAD,
      presigned: true,
    },
  };
}

type ScopeResult =
  | { ok: true; accessKeyId: string; date: string; region: string; service: string }
  | { ok: false; failure: AuthFailure };

function parseScope(credential: string, reason: 'malformed-authorization' | 'malformed-query'): ScopeResult {
  const [accessKeyId, date, region, service, terminator, ...rest] = credential.split('/');
  if (!accessKeyId || !date || !region || !service || terminator !== 'aws4_request' || rest.length > 0) {
    return fail({ reason, detail: 'the credential must be <key>/<yyyymmdd>/<region>/s3/aws4_request' });
  }
  if (service !== 's3') return fail({ reason, detail: `the credential scope must name service "s3", not "${service}"` });
  return { ok: true, accessKeyId, date, region, service };
}

type DateResult = { ok: true; ms: number } | { ok: false; failure: AuthFailure };

function checkDate(amzDate: string, scopeDate: string, reason: 'malformed-authorization' | 'malformed-query'): DateResult {
  const ms = parseAmzDate(amzDate);
  if (ms === undefined) return fail({ reason, detail: 'X-Amz-Date must look like 20260126T101500Z' });
  if (amzDate.slice(0, 8) !== scopeDate) {
    return fail({ reason, detail: `the credential date ${scopeDate} does not match X-Amz-Date ${amzDate}` });
  }
  return { ok: true, ms };
}

/** AWS refuses x-amz-* headers that the signature does not cover, so nobody can add or alter them in transit. */
function unsignedAmzHeaders(headers: Headers, signed: readonly string[], presigned: boolean): string[] {
  const out: string[] = [];
  headers.forEach((_value, name) => {
    if (!name.startsWith('x-amz-') || signed.includes(name)) return;
    // A presigned URL cannot sign a payload hash the client's tool adds later.
    if (presigned && name === 'x-amz-content-sha256') return;
    out.push(name);
  });
  return out;
}

function safeParseQuery(search: string): [string, string][] | undefined {
  try {
    return parseRawQuery(search);
  } catch {
    return undefined;
  }
}

function fail(failure: AuthFailure): { ok: false; failure: AuthFailure } {
  return { ok: false, failure };
}

/** The one place where internal reasons become what the client sees. */
export function authFailureToS3Error(failure: AuthFailure): S3Error {
  switch (failure.reason) {
    case 'no-credentials':
      return new S3Error('AccessDenied', 'Anonymous access is not allowed; sign the request with AWS Signature V4');
    case 'unsupported-algorithm':
      return new S3Error(
        'InvalidRequest',
        'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
      );
    case 'malformed-authorization':
      return new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed: ${failure.detail}`);
    case 'malformed-query':
      return new S3Error('AuthorizationQueryParametersError', failure.detail);
    case 'missing-content-sha256':
      return new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256');
    case 'unknown-access-key':
      return new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
    case 'bad-signature':
      return new S3Error(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      );
    case 'clock-skew':
      return new S3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
        details: { RequestTime: failure.requestTime, MaxAllowedSkewMilliseconds: String(failure.allowedSeconds * 1000) },
      });
    case 'presign-expired':
      return new S3Error('AccessDenied', 'Request has expired', { details: { Expires: failure.expiredAt } });
    case 'presign-not-yet-valid':
      return new S3Error('AccessDenied', 'Request is not yet valid');
    case 'wrong-region': {
      // https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html: the expected region goes in <Region>.
      const message = `the region '${failure.region}' is wrong; expecting '${failure.expected}'`;
      return failure.presigned
        ? new S3Error('AuthorizationQueryParametersError', `Error parsing the X-Amz-Credential parameter; ${message}`, { details: { Region: failure.expected } })
        : new S3Error('AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}`, { details: { Region: failure.expected } });
    }
    case 'duplicate-auth-parameter':
      return new S3Error('AuthorizationQueryParametersError', `The ${failure.name} query parameter may appear only once.`);
    case 'two-auth-mechanisms':
      return new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified', {
        details: { ArgumentName: 'Authorization' },
      });
    case 'unsigned-headers':
      return new S3Error('AccessDenied', 'There were headers present in the request which were not signed', {
        details: { HeadersNotSigned: failure.headers.join(', ') },
      });
  }
}
