/**
 * AWS Signature Version 4, the verifying side, in the order of the algorithm:
 * canonical request -> string to sign -> signing key -> signature.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 * S3 encodes the path once and never normalizes it:
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 */
import { toHex, uriEncode } from '../crypto/encoding.ts';


const encoder = new TextEncoder();

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The path as the client meant it (decoded once), re-encoded the canonical way. Throws URIError on bad escapes. */
export function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => uriEncode(decodeURIComponent(segment), true))
    .join('/');
}

/**
 * The canonical URIs a client may have signed for this path. A path with an encoded slash (`..%2Fx`) is signed
 * either segment by segment (`..%2Fx`) or, as S3 and SDKs that sign the decoded key do, with the slash as it
 * decodes (`../x`). Both name the same key, since the key is the decoded path either way.
 */
export function canonicalUriCandidates(rawPath: string): string[] {
  const segmentwise = canonicalUri(rawPath);
  if (!/%2f/i.test(rawPath)) return [segmentwise];
  return [segmentwise, uriEncode(decodeURIComponent(rawPath), false)];
}

/** Query pairs decoded from the raw query string; `+` is literal, as AWS SDKs encode space as %20. */
export function parseRawQuery(rawQuery: string): [string, string][] {
  const query = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  if (!query) return [];
  return query.split('&').filter(Boolean).map((pair) => {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    return [decodeURIComponent(name), decodeURIComponent(value)];
  });
}

export function canonicalQueryString(pairs: readonly [string, string][], exclude?: string): string {
  return pairs
    .filter(([name]) => name !== exclude)
    .map(([name, value]) => [uriEncode(name, true), uriEncode(value, true)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

export function canonicalHeaders(headers: Headers, signedHeaders: readonly string[]): string {
  return signedHeaders
    .map((name) => `${name}:${(headers.get(name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
}

export function canonicalRequest(parts: {
  method: string;
  uri: string;
  query: string;
  headers: string;
  signedHeaders: readonly string[];
  payloadHash: string;
}): string {
  return [parts.method, parts.uri, parts.query, parts.headers, parts.signedHeaders.join(';'), parts.payloadHash].join('\n');
}

export function stringToSign(amzDate: string, scope: string, canonicalRequestHash: string): string {
  return [ALGORITHM, amzDate, scope, canonicalRequestHash].join('\n');
}

export async function hmac(key: ArrayBuffer | Uint8Array | string, data: string): Promise<ArrayBuffer> {
  const raw = typeof key === 'string' ? encoder.encode(key) : key;
  const cryptoKey = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', cryptoKey, encoder.encode(data));
}

const SIGNING_KEY_CACHE_LIMIT = 512;

/** Derived signing keys by secret, date, region and service (the isolate's one map: src/runtime/isolate.ts). */
export type SigningKeyCache = Map<string, Promise<ArrayBuffer>>;

/**
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"), cached because every
 * request of a day reuses it. Only known secrets should be cached: callers pass no cache for the dummy secret.
 */
export function signingKey(secret: string, date: string, region: string, service: string, cache?: SigningKeyCache): Promise<ArrayBuffer> {
  const cacheKey = `${secret}\n${date}\n${region}\n${service}`;
  const hit = cache?.get(cacheKey);
  if (hit) return hit;
  const derived = (async () => {
    const kDate = await hmac(`AWS4${secret}`, date);
    const kRegion = await hmac(kDate, region);
    const kService = await hmac(kRegion, service);
    return hmac(kService, 'aws4_request');
  })();
  if (cache) {
    if (cache.size >= SIGNING_KEY_CACHE_LIMIT) cache.clear();
    cache.set(cacheKey, derived);
  }
  return derived;
}

export async function signature(key: ArrayBuffer, toSign: string): Promise<string> {
  return toHex(await hmac(key, toSign));
}


/** Compares without an early exit so the time taken does not reveal how much of a signature was right. */
export function timingSafeEqualText(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  }
  return diff === 0;
}

/** `20260126T101500Z` -> epoch ms, or undefined if it is not that exact shape. */
export function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  // Date.UTC rolls 20261332T256161Z over into a real date; a calendar-invalid stamp is refused, not reinterpreted.
  const back = new Date(ms);
  if (Number.isNaN(ms) || back.getUTCFullYear() !== Number(m[1]) || back.getUTCMonth() !== Number(m[2]) - 1 || back.getUTCDate() !== Number(m[3])) return undefined;
  if (back.getUTCHours() !== Number(m[4]) || back.getUTCMinutes() !== Number(m[5]) || back.getUTCSeconds() !== Number(m[6])) return undefined;
  return ms;
}
