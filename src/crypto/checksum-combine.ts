/**
 * Checksums of a multipart object from its parts' checksums, as S3 computes them at CompleteMultipartUpload:
 * - composite: the algorithm over the concatenated binary part checksums, then `-<part count>`;
 * - full object (CRC types only): the CRC of the whole object, combined from the parts' CRCs and sizes without
 *   reading a byte (the GF(2) polynomial arithmetic zlib's crc32_combine uses, for any reflected CRC whose
 *   initial value and final XOR are all ones).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html#large-object-checksums
 */
import { fromBase64 as decodeBase64, toBase64 } from './encoding.ts';
import { type ChecksumAlgorithm, createChecksum } from './checksums.ts';

/** Stored part checksums were verified base64 when recorded. */
const fromBase64 = (value: string): Uint8Array => decodeBase64(value) ?? new Uint8Array();

export type CrcAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme';

export function isCrcAlgorithm(algorithm: ChecksumAlgorithm): algorithm is CrcAlgorithm {
  return algorithm === 'crc32' || algorithm === 'crc32c' || algorithm === 'crc64nvme';
}

/** The composite checksum of parts given in order as base64 values, with S3's `-N` suffix. */
export async function compositeChecksum(algorithm: ChecksumAlgorithm, partChecksums: readonly string[]): Promise<string> {
  const running = createChecksum(algorithm);
  for (const value of partChecksums) await running.update(fromBase64(value));
  return `${await running.digest()}-${partChecksums.length}`;
}

/** The whole object's CRC from its parts' CRCs (base64) and client sizes, in order. */
export function combinedCrc(algorithm: CrcAlgorithm, parts: readonly { checksum: string; size: number }[]): string {
  const crc = CRCS[algorithm];
  let value = 0n;
  let first = true;
  for (const part of parts) {
    const partValue = bytesToBigint(fromBase64(part.checksum));
    value = first ? partValue : multiplyModP(crc, powerOfX(crc, BigInt(part.size) * 8n), value) ^ partValue;
    first = false;
  }
  return toBase64(bigintToBytes(value, crc.width / 8));
}

interface Crc {
  width: number;
  /** The reflected polynomial. */
  poly: bigint;
  /** x^(2^k) mod P for k = 0, 1, ...: squaring steps for powers of x. */
  squares: bigint[];
}

function defineCrc(width: number, poly: bigint): Crc {
  const crc: Crc = { width, poly, squares: [] };
  // x^1 is the second-highest bit in the reflected representation.
  let square = 1n << BigInt(width - 2);
  for (let k = 0; k < 64; k++) {
    crc.squares.push(square);
    square = multiplyModP(crc, square, square);
  }
  return crc;
}

const CRCS: Record<CrcAlgorithm, Crc> = {
  crc32: defineCrc(32, 0xedb88320n),
  crc32c: defineCrc(32, 0x82f63b78n),
  crc64nvme: defineCrc(64, 0x9a6c9329ac4bc9b5n),
};

/** a·b mod P, both reflected (the highest bit is x^0). */
function multiplyModP(crc: Crc, a: bigint, b: bigint): bigint {
  let m = 1n << BigInt(crc.width - 1);
  let product = 0n;
  while (m !== 0n) {
    if ((a & m) !== 0n) product ^= b;
    m >>= 1n;
    b = (b & 1n) !== 0n ? (b >> 1n) ^ crc.poly : b >> 1n;
  }
  return product;
}

/** x^bits mod P. */
function powerOfX(crc: Crc, bits: bigint): bigint {
  let result = 1n << BigInt(crc.width - 1); // x^0
  for (let k = 0; bits > 0n; k++, bits >>= 1n) {
    if ((bits & 1n) !== 0n) result = multiplyModP(crc, crc.squares[k] ?? 0n, result);
  }
  return result;
}


function bytesToBigint(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const b of bytes) value = (value << 8n) | BigInt(b);
  return value;
}

function bigintToBytes(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--, value >>= 8n) out[i] = Number(value & 0xffn);
  return out;
}
