/**
 * The seam where at-rest encryption plugs into the data path: how many stored bytes a client size takes, how
 * client chunks become stored chunks on the way in, and how to read a client byte range back. Until encryption
 * is configured every object is stored as is.
 */
import type { ByteRange } from '../util/byte-range.ts';

/** Where the stored bytes go, chunk by chunk (the encryption seam: plaintext passes chunks through). */
export interface ChunkEncoder {
  /** Stored bytes for the next client chunk; the input may be reused as soon as the returned promise settles. */
  update(chunk: Uint8Array): Promise<Uint8Array[]>;
  /** Stored bytes that end the object. */
  final(): Promise<Uint8Array[]>;
}

export interface StorageTransform {
  /** Stored size for a client (plaintext) size. */
  storedSize(clientSize: number): number;
  /** A fresh encoder for one object's upload. */
  createEncoder(): ChunkEncoder;
  /** The stored range to fetch for a client range, and how to turn it back into the client's bytes. */
  readPlan(range: ByteRange | undefined, clientSize: number): {
    storedRange: ByteRange | undefined;
    decode(stored: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
  };
}

const passThrough: ChunkEncoder = {
  update: async (chunk) => [chunk],
  final: async () => [],
};

export const plaintextStorage: StorageTransform = {
  storedSize: (clientSize) => clientSize,
  createEncoder: () => passThrough,
  readPlan: (range) => ({ storedRange: range, decode: (stored) => stored }),
};
