/**
 * The one place a physical key becomes part of a backend request: the object URL of every call (put, get, head,
 * delete, multipart, copy target) and the `x-amz-copy-source` of a server-side copy. Each segment is encoded the
 * way SigV4's canonical URI encodes it for S3 (once, RFC 3986 unreserved characters kept), so the backend verifies
 * exactly the path we signed. A dot segment can survive no URL parser (WHATWG collapses `.`/`..` even as
 * `%2E`), so a physical key holding one is refused outright: the key layout (objects/physical-key.ts) never makes
 * one, and a key that has one could only land outside its bucket's prefix.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html
 */
import type { BackendConfig } from '../config/types.ts';
import { uriEncode } from '../crypto/encoding.ts';

export class UnsafePhysicalKeyError extends Error {
  constructor(physicalKey: string) {
    super(`physical key ${JSON.stringify(physicalKey)} has a "." or ".." segment; refusing to send it to a backend`);
    this.name = 'UnsafePhysicalKeyError';
  }
}

/** The encoded path of a physical key, without a leading slash. Throws UnsafePhysicalKeyError on a dot segment. */
export function encodedObjectPath(physicalKey: string): string {
  const segments = physicalKey.split('/');
  if (segments.some((s) => s === '.' || s === '..')) throw new UnsafePhysicalKeyError(physicalKey);
  return segments.map((s) => uriEncode(s, true)).join('/');
}

/** The URL of a physical key in the backend's bucket, path-style or virtual-hosted as the backend is configured. */
export function backendObjectUrl(config: Pick<BackendConfig, 'endpoint' | 'bucket' | 'forcePathStyle'>, physicalKey: string, query = ''): string {
  const base = new URL(config.endpoint);
  const path = encodedObjectPath(physicalKey);
  const url = config.forcePathStyle ? `${base.origin}/${config.bucket}/${path}` : `${base.protocol}//${config.bucket}.${base.host}/${path}`;
  return query ? `${url}?${query}` : url;
}

/** `x-amz-copy-source` for a server-side copy inside the backend's own bucket. */
export function backendCopySource(config: Pick<BackendConfig, 'bucket'>, physicalKey: string): string {
  return `/${config.bucket}/${encodedObjectPath(physicalKey)}`;
}
