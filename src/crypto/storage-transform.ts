/**
 * The seam where at-rest encryption plugs into the data path: how many stored bytes a client size takes, how
 * client chunks become stored chunks on the way in, and how to read a client byte range back. Until encryption
 * is configured every object is stored as is.
 */
import type { ByteRange } from '../backends/client.ts';
import type { ChunkEncoder } from '../objects/upload-pump.ts';

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
