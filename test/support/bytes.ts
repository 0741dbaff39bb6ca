import { createHash, randomBytes } from 'node:crypto';

export function randomBody(size: number): Buffer {
  return randomBytes(size);
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** Reads an SDK response body fully (only for small test objects) and returns its bytes. */
export async function bodyBytes(body: { transformToByteArray(): Promise<Uint8Array> } | undefined): Promise<Uint8Array> {
  if (!body) throw new Error('response has no body');
  return body.transformToByteArray();
}
