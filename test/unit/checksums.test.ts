import { describe, expect, it } from 'vitest';
import { type ChecksumAlgorithm, createChecksum } from '../../src/crypto/checksums.ts';

const hexToBase64 = (hex: string) => btoa(String.fromCharCode(...hex.match(/../g)!.map((h) => parseInt(h, 16))));

// Check values from the CRC catalogue ("123456789") and FIPS 180 ("abc" style digests of "123456789").
const CASES: [ChecksumAlgorithm, string][] = [
  ['crc32', 'cbf43926'],
  ['crc32c', 'e3069283'],
  ['crc64nvme', 'ae8b14860a799888'],
  ['sha1', 'f7c3bc1d808e04732adf679965ccc34ca7ae3441'],
  ['sha256', '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225'],
];

describe('checksums', () => {
  for (const [algorithm, hex] of CASES) {
    it(`${algorithm} matches its published check value, however the input is split`, async () => {
      const data = new TextEncoder().encode('123456789');
      for (const split of [9, 1, 4, 8]) {
        const sum = createChecksum(algorithm);
        for (let i = 0; i < data.length; i += split) await sum.update(data.subarray(i, i + split));
        expect(await sum.digest()).toBe(hexToBase64(hex));
      }
    });
  }

  it('the table CRC-32C agrees across chunk boundaries on longer input', async () => {
    const data = new Uint8Array(100_003).map((_, i) => (i * 7919) & 0xff);
    const whole = createChecksum('crc32c');
    await whole.update(data);
    const parts = createChecksum('crc32c');
    for (let i = 0; i < data.length; i += 1237) await parts.update(data.subarray(i, i + 1237));
    expect(await parts.digest()).toBe(await whole.digest());
  });
});
