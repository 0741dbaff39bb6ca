/**
 * The seam where at-rest encryption plugs into the data path: how a client body becomes the stored bytes, how
 * many stored bytes a client size takes, and how to read a client byte range back. Until encryption is configured
 * every object is stored as is.
 */
import type { ByteRange } from '../backends/client.ts';

export interface StorageTransform {
  /** Stored size for a client (plaintext) size. */
  storedSize(clientSize: number): number;
  /** Client bytes in, stored bytes out. */
  encode(body: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
  /** The stored range to fetch for a client range, and how to turn it back into the client's bytes. */
  readPlan(range: ByteRange | undefined, clientSize: number): {
    storedRange: ByteRange | undefined;
    decode(stored: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
  };
}

export const plaintextStorage: StorageTransform = {
  storedSize: (clientSize) => clientSize,
  encode: (body) => body,
  readPlan: (range) => ({ storedRange: range, decode: (stored) => stored }),
};
