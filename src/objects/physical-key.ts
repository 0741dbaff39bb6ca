/**
 * Where a copy lives on a backend: `<bucket>/<key>~<version>`. The version makes every write land on a fresh key,
 * so an overwrite or a lost race never clobbers a copy the database still points at. Keys too long for a backend
 * (S3 allows 1024 bytes) fall back to `<bucket>/~long/<sha256(key)>~<version>`. See docs/storage-layout.md.
 */
import { sha256Hex } from '../s3/sigv4.ts';

const MAX_BACKEND_KEY_BYTES = 1024;
const encoder = new TextEncoder();

/** Time-ordered (base36 milliseconds) plus 64 random bits, so versions of one key sort by write time. */
export function newVersion(now = Date.now()): string {
  const random = crypto.getRandomValues(new Uint8Array(8));
  let hex = '';
  for (const byte of random) hex += byte.toString(16).padStart(2, '0');
  return `${now.toString(36).padStart(9, '0')}${hex}`;
}

export async function physicalKey(bucket: string, key: string, version: string): Promise<string> {
  const plain = `${bucket}/${key}~${version}`;
  if (encoder.encode(plain).length <= MAX_BACKEND_KEY_BYTES) return plain;
  return `${bucket}/~long/${await sha256Hex(key)}~${version}`;
}
