/** An S3 request with its addressing parsed once: path-style `/<bucket>/<key>`. */
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
}

const MAX_KEY_BYTES = 1024;

export function parseS3Request(request: Request): S3Request {
  const url = new URL(request.url);
  let query: Map<string, string>;
  let segments: string[];
  try {
    query = new Map(parseRawQuery(url.search));
    const path = url.pathname.slice(1);
    const slash = path.indexOf('/');
    segments = slash < 0 ? [path] : [path.slice(0, slash), path.slice(slash + 1)];
    segments = segments.map(decodeURIComponent);
  } catch {
    throw new S3Error('InvalidArgument', 'The request URL has an invalid percent-encoding');
  }
  const bucket = segments[0] || undefined;
  const key = segments[1] || undefined;
  if (key !== undefined && new TextEncoder().encode(key).length > MAX_KEY_BYTES) {
    throw new S3Error('KeyTooLongError', 'Your key is too long', { details: { MaxSizeAllowed: String(MAX_KEY_BYTES) } });
  }
  return { method: request.method, bucket, key, query, headers: request.headers, body: request.body, raw: request };
}
