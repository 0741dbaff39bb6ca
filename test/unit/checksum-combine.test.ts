/** Multipart checksums from part checksums, checked against checksums of the whole bytes. */
import { describe, expect, it } from 'vitest';
import { combinedCrc, compositeChecksum } from '../../src/crypto/checksum-combine.ts';
import { type ChecksumAlgorithm, createChecksum } from '../../src/crypto/checksums.ts';

async function checksumOf(algorithm: ChecksumAlgorithm, ...pieces: Uint8Array[]): Promise<string> {
  const running = createChecksum(algorithm);
  for (const piece of pieces) await running.update(piece);
  return running.digest();
}

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('combinedCrc', () => {
  for (const algorithm of ['crc32', 'crc32c', 'crc64nvme'] as const) {
    it(`${algorithm}: the parts' CRCs combine to the CRC of the whole object`, async () => {
      for (const sizes of [[1], [5, 7], [0, 3, 0], [65_536, 1, 4097], [100_000, 250_001, 3]]) {
        const parts = sizes.map((size, i) => bytes(size, i + 1));
        const whole = await checksumOf(algorithm, ...parts);
        const partSums = await Promise.all(parts.map(async (p) => ({ checksum: await checksumOf(algorithm, p), size: p.length })));
        expect(combinedCrc(algorithm, partSums), sizes.join('+')).toBe(whole);
      }
    });
  }

  it('matches the published check value of CRC-32 for "123456789" split in three', async () => {
    const text = new TextEncoder().encode('123456789');
    const parts = [text.subarray(0, 2), text.subarray(2, 7), text.subarray(7)];
    const sums = await Promise.all(parts.map(async (p) => ({ checksum: await checksumOf('crc32', p), size: p.length })));
    // CRC-32 check value 0xCBF43926.
    expect(combinedCrc('crc32', sums)).toBe(btoa(String.fromCharCode(0xcb, 0xf4, 0x39, 0x26)));
  });
});

describe('compositeChecksum', () => {
  it('is the checksum of the concatenated binary part checksums with the part count', async () => {
    const parts = [bytes(10, 1), bytes(20, 2)];
    const sums = await Promise.all(parts.map((p) => checksumOf('sha256', p)));
    const binary = sums.map((s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0)));
    expect(await compositeChecksum('sha256', sums)).toBe(`${await checksumOf('sha256', ...binary)}-2`);
  });
});
