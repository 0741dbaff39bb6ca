/** An S3 request with its addressing parsed once: path-style `/<bucket>/<key>`. */
import type { AuditValue } from '../observe/audit.ts';
import { S3Error } from './errors.ts';
import { parseRawQuery } from './sigv4.ts';

export interface S3Request {
  method: string;
  bucket: string | undefined;
  key: string | undefined;
  query: Map<string, string>;
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  raw: Request;
  /** What the operation learnt for its audit record (the ETag it made, how many keys a batch named): src/s3/s3-audit.ts. */
  audit: Record<string, AuditValue>;
  /** The keys a DeleteObjects removed, for its notification (src/s3/s3-notifications.ts). */
  removedKeys?: string[];
}

const MAX_KEY_BYTES = 1024;

/**
 * Path style (`/<bucket>/<key>`), or virtual-hosted style (`<bucket>.<base domain>/<key>`) when the Host is a
 * subdomain of one of the configured base domains.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html
 */
export function parseS3Request(request: Request, baseDomains: readonly string[] = []): S3Request {
  const url = new URL(request.url);
  const hostBucket = bucketFromHost(request.headers.get('host') ?? url.host, baseDomains);
  let query: Map<string, string>;
  let bucket: string | undefined;
  let key: string | undefined;
  try {
    query = new Map(parseRawQuery(url.search));
    const path = url.pathname.slice(1);
    if (hostBucket !== undefined) {
      bucket = hostBucket;
      key = decodeURIComponent(path) || undefined;
    } else {
      const slash = path.indexOf('/');
      bucket = decodeURIComponent(slash < 0 ? path : path.slice(0, slash)) || undefined;
      key = slash < 0 ? undefined : decodeURIComponent(path.slice(slash + 1)) || undefined;
    }
  } catch {
    throw new S3Error('InvalidArgument', 'The request URL has an invalid percent-encoding');
  }
  if (key !== undefined && new TextEncoder().encode(key).length > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 'Your key is too long', { details: { MaxSizeAllowed: String(MAX_KEY_BYTES) } });
  }
  return { method: request.method, bucket, key, query, headers: request.headers, body: request.body, raw: request, audit: {} };
}

/** The bucket a virtual-hosted request names in its Host, if the Host is under one of the base domains. */
export function bucketFromHost(host: string, baseDomains: readonly string[]): string | undefined {
  const hostname = host.replace(/:\d+$/, '').toLowerCase();
  for (const domain of baseDomains) {
    if (hostname.endsWith(`.${domain}`)) return hostname.slice(0, -domain.length - 1) || undefined;
  }
  return undefined;
}
