/**
 * The additional checksums S3 accepts on uploads (x-amz-checksum-*), computed incrementally while the body streams.
 * Values are base64 of the big-endian checksum bytes, as S3 sends them.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html
 */
import { toBase64 } from './encoding.ts';
import * as zlib from 'node:zlib';


export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export function isChecksumAlgorithm(name: string): name is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(name);
}

export interface RunningChecksum {
  update(chunk: Uint8Array): Promise<void>;
  /** Base64 of the final value; call once, after the last update. */
  digest(): Promise<string>;
}

export function createChecksum(algorithm: ChecksumAlgorithm): RunningChecksum {
  switch (algorithm) {
    case 'crc32':
      return crc32Checksum();
    case 'crc32c':
      return tableCrc32(CRC32C_TABLES);
    case 'crc64nvme':
      return crc64nvme();
    case 'sha1':
      return digestChecksum('SHA-1');
    case 'sha256':
      return digestChecksum('SHA-256');
  }
}

/** zlib's CRC-32 (IEEE) is native in workerd; the table version is the fallback. */
function crc32Checksum(): RunningChecksum {
  const native: ((data: Uint8Array, value?: number) => number) | undefined = zlib.crc32;
  if (!native) return tableCrc32(CRC32_TABLES);
  let value = 0;
  return {
    update: async (chunk) => {
      value = native(chunk, value);
    },
    digest: async () => toBase64(uint32Bytes(value)),
  };
}

function digestChecksum(name: 'SHA-1' | 'SHA-256'): RunningChecksum {
  const stream = new crypto.DigestStream(name);
  const writer = stream.getWriter();
  return {
    update: (chunk) => writer.write(chunk),
    digest: async () => {
      await writer.close();
      return toBase64(new Uint8Array(await stream.digest));
    },
  };
}

/** Slicing-by-8 tables for a reflected 32-bit CRC: eight bytes per step keeps the JavaScript loop cheap. */
function slicingTables(polynomial: number): Uint32Array[] {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  const first = tables[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ polynomial : c >>> 1;
    first[n] = c >>> 0;
  }
  for (let t = 1; t < 8; t++) {
    const previous = tables[t - 1]!;
    const table = tables[t]!;
    for (let n = 0; n < 256; n++) table[n] = (previous[n]! >>> 8) ^ first[previous[n]! & 0xff]!;
  }
  return tables;
}

const CRC32_TABLES = slicingTables(0xedb88320);
const CRC32C_TABLES = slicingTables(0x82f63b78);

function tableCrc32(tables: Uint32Array[]): RunningChecksum {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  let crc = 0xffffffff;
  return {
    update: async (data) => {
      let i = 0;
      const end8 = data.length - (data.length % 8);
      for (; i < end8; i += 8) {
        const a = (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
        crc =
          t7[a & 0xff]! ^ t6[(a >>> 8) & 0xff]! ^ t5[(a >>> 16) & 0xff]! ^ t4[a >>> 24]! ^
          t3[data[i + 4]!]! ^ t2[data[i + 5]!]! ^ t1[data[i + 6]!]! ^ t0[data[i + 7]!]!;
      }
      for (; i < data.length; i++) crc = (crc >>> 8) ^ t0[(crc ^ data[i]!) & 0xff]!;
    },
    digest: async () => toBase64(uint32Bytes((crc ^ 0xffffffff) >>> 0)),
  };
}

/** CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5), kept as two 32-bit halves to avoid BigInt per byte. */
const CRC64_HI = new Uint32Array(256);
const CRC64_LO = new Uint32Array(256);
(() => {
  const polyHi = 0x9a6c9329;
  const polyLo = 0xac4bc9b5;
  for (let n = 0; n < 256; n++) {
    let hi = 0;
    let lo = n;
    for (let k = 0; k < 8; k++) {
      const carry = lo & 1;
      lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
      hi = hi >>> 1;
      if (carry) {
        hi = (hi ^ polyHi) >>> 0;
        lo = (lo ^ polyLo) >>> 0;
      }
    }
    CRC64_HI[n] = hi;
    CRC64_LO[n] = lo;
  }
})();

function crc64nvme(): RunningChecksum {
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  return {
    update: async (data) => {
      for (let i = 0; i < data.length; i++) {
        const index = (lo ^ data[i]!) & 0xff;
        lo = ((lo >>> 8) | (hi << 24)) >>> 0;
        hi = hi >>> 8;
        hi = (hi ^ CRC64_HI[index]!) >>> 0;
        lo = (lo ^ CRC64_LO[index]!) >>> 0;
      }
    },
    digest: async () => {
      const out = new Uint8Array(8);
      const view = new DataView(out.buffer);
      view.setUint32(0, (hi ^ 0xffffffff) >>> 0);
      view.setUint32(4, (lo ^ 0xffffffff) >>> 0);
      return toBase64(out);
    },
  };
}

function uint32Bytes(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value >>> 0);
  return out;
}

