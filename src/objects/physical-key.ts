/**
 * Where a copy lives on a backend: `<bucket>/<key with its dot segments escaped>~<version>`. The version makes
 * every write land on a fresh key, so an overwrite or a lost race never clobbers a copy the database still points
 * at. Keys too long for a backend (S3 allows 1024 bytes) fall back to `<bucket>/~long/<sha256(key)>~<version>`.
 *
 * A client's key is data, never a path: `.` and `..` are legal S3 key segments, but every URL parser on the way
 * to a backend (WHATWG's `new URL`, `fetch`, proxies, the backend itself) collapses them, even percent-encoded,
 * and a collapsed `..` would move the write out of the bucket's prefix. So a key segment made only of one or two
 * dots (after any `~`s) gains one leading `~`; the mapping is reversible (`keyOfPhysicalKey`) and no physical key
 * has a dot segment. See docs/storage-layout.md.
 */
import { randomHex } from '../crypto/encoding.ts';
import { sha256Hex } from '../crypto/encoding.ts';

const MAX_BACKEND_KEY_BYTES = 1024;
const encoder = new TextEncoder();
/** `.`, `..`, and the same with leading `~`s (escaped once more, so the escape itself stays reversible). */
const DOT_SEGMENT = /^~*\.\.?$/;
const ESCAPED_DOT_SEGMENT = /^~+\.\.?$/;

/** Time-ordered (base36 milliseconds) plus 64 random bits, so versions of one key sort by write time. */
export function newVersion(now: number): string {
  return `${now.toString(36).padStart(9, '0')}${randomHex(8)}`;
}

export async function physicalKey(bucket: string, key: string, version: string): Promise<string> {
  const plain = `${bucket}/${escapeDotSegments(key)}~${version}`;
  if (encoder.encode(plain).length <= MAX_BACKEND_KEY_BYTES) return plain;
  return `${bucket}/~long/${await sha256Hex(key)}~${version}`;
}

export function escapeDotSegments(key: string): string {
  return key
    .split('/')
    .map((segment) => (DOT_SEGMENT.test(segment) ? `~${segment}` : segment))
    .join('/');
}

/**
 * The client key a physical key was made from (`undefined` for a hashed long key or another layout): what a
 * reconcile reads back from a backend's listing.
 */
export function keyOfPhysicalKey(physical: string): { bucket: string; key: string } | undefined {
  const slash = physical.indexOf('/');
  const tilde = physical.lastIndexOf('~');
  if (slash <= 0 || tilde <= slash) return undefined;
  const bucket = physical.slice(0, slash);
  const escaped = physical.slice(slash + 1, tilde);
  if (escaped.startsWith('~long/')) return undefined;
  const key = escaped
    .split('/')
    .map((segment) => (ESCAPED_DOT_SEGMENT.test(segment) ? segment.slice(1) : segment))
    .join('/');
  return { bucket, key };
}

/**
 * Whether a physical key is one the layout makes for this client key: a copy's record can only send a read to
 * bytes written under the same bucket and key, whatever a faulty record says.
 */
export async function physicalKeyBelongsTo(physical: string, bucket: string, key: string): Promise<boolean> {
  const tilde = physical.lastIndexOf('~');
  // An object adopted by `admin sync --adopt-foreign` keeps the name something else gave it, which is its key; no
  // layout key can be taken for one (it ends in a version), so such a record cannot point a client elsewhere.
  if (physical === key && !backendKeyKind(physical).layout) return true;
  if (tilde < 0) return false;
  const stem = physical.slice(0, tilde);
  // The current layout, the one before dot segments were escaped (rows written then), or the hashed long form.
  return stem === `${bucket}/${escapeDotSegments(key)}` || stem === `${bucket}/${key}` || stem === `${bucket}/~long/${await sha256Hex(key)}`;
}

/** A version as newVersion makes it, optionally with a rewrite's tag (`<version>.<8 hex>`). */
const VERSION = /^[0-9a-z]{9}[0-9a-f]{16}(\.[0-9a-f]{8})?$/;

/**
 * What a backend key is to the orchestrator: a copy in its layout (bucket, client key, version; `key` undefined
 * for the hashed form of a long key), or a foreign object something else wrote into the backend's bucket.
 */
export type BackendKeyKind = { layout: true; bucket: string; key: string | undefined; version: string } | { layout: false };

export function backendKeyKind(physical: string): BackendKeyKind {
  const slash = physical.indexOf('/');
  const tilde = physical.lastIndexOf('~');
  const version = physical.slice(tilde + 1);
  if (slash <= 0 || tilde <= slash || !VERSION.test(version)) return { layout: false };
  const bucket = physical.slice(0, slash);
  if (physical.startsWith(`${bucket}/~long/`)) return { layout: true, bucket, key: undefined, version };
  const parsed = keyOfPhysicalKey(physical);
  return parsed ? { layout: true, bucket, key: parsed.key, version } : { layout: false };
}
