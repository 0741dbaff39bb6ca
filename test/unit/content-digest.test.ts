import { describe, expect, it } from 'vitest';
import { compositeSha256, createContentHasher, isCompositeDigest } from '../../src/crypto/content-digest.ts';
import { sha256Hex } from '../../src/crypto/encoding.ts';

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

async function hashInChunks(data: Uint8Array, chunk: number, partSizes?: number[]) {
  const hasher = createContentHasher(partSizes);
  for (let i = 0; i < data.byteLength; i += chunk) await hasher.update(data.subarray(i, i + chunk));
  return hasher.finish();
}

describe('content digest', () => {
  it('a plain digest is the SHA-256 of the bytes, however they are chunked', async () => {
    const data = bytes(10_000);
    for (const chunk of [1, 7, 4096, 10_000]) expect((await hashInChunks(data, chunk)).digest).toBe(await sha256Hex(data));
  });

  it('a composite digest hashes each part separately, whatever the chunk boundaries', async () => {
    const data = bytes(1000);
    const sizes = [300, 0, 500, 200];
    let offset = 0;
    const parts: string[] = [];
    for (const size of sizes) {
      parts.push(await sha256Hex(data.slice(offset, offset + size)));
      offset += size;
    }
    const expected = await compositeSha256(parts);
    expect(expected).toMatch(/^[0-9a-f]{64}-4$/);
    expect(isCompositeDigest(expected)).toBe(true);
    expect(isCompositeDigest(await sha256Hex(data))).toBe(false);
    for (const chunk of [1, 64, 299, 301, 1000]) {
      const result = await hashInChunks(data, chunk, sizes);
      expect(result.digest).toBe(expected);
      expect(result.parts).toEqual(parts);
      expect(result.bytes).toBe(1000);
    }
  });

  it('bytes short of or beyond the parts never match', async () => {
    const data = bytes(1000);
    const expected = (await hashInChunks(data, 100, [500, 500])).digest;
    expect((await hashInChunks(data.subarray(0, 999), 100, [500, 500])).digest).not.toBe(expected);
    const longer = new Uint8Array(1001);
    longer.set(data);
    expect((await hashInChunks(longer, 100, [500, 500])).digest).not.toBe(expected);
  });
});
