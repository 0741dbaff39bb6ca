/**
 * Benchmark payloads: every object is a window onto one random 1 MiB block repeated forever, starting at a
 * per-object offset. With a `shift`, the window moves on by `shift` more bytes at every 1 MiB block of the object,
 * so that its blocks all differ (a part uploaded twice, or in the wrong place, shows). Bodies can be built as
 * Buffers or generated as a stream without holding the object, and a download is checked against the pattern
 * chunk by chunk (a memcmp, cheap next to the transfer) while counting.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

const BLOCK = MiB;
/** The block twice over, so that any window of up to one block is a zero-copy subarray. */
const DOUBLE = (() => {
  const block = randomBytes(BLOCK);
  return Buffer.concat([block, block]);
})();

/**
 * Bytes [from, from + length) of the object whose pattern starts at `offset` and moves on by `shift` bytes at each
 * block; length at most one block, and within one block of the object unless `shift` is 0.
 */
function window(offset: number, from: number, length: number, shift = 0): Buffer {
  const start = (offset + from + Math.floor(from / BLOCK) * shift) % BLOCK;
  return DOUBLE.subarray(start, start + length);
}

/**
 * A shift that makes every block of an object up to 1 TiB different: odd, so the 2^20 first blocks start at 2^20
 * different places of the (random, so aperiodic) block.
 */
export const DISTINCT_BLOCKS_SHIFT = 4099;

/** The whole object as one Buffer (a view into the pattern when it fits in one block, else a fresh copy). */
export function objectBuffer(offset: number, size: number): Buffer {
  if (size <= BLOCK) return window(offset, 0, size);
  const out = Buffer.allocUnsafe(size);
  for (let at = 0; at < size; at += BLOCK) window(offset, at, Math.min(BLOCK, size - at)).copy(out, at);
  return out;
}

/** The object as a stream of 1 MiB chunks (one per block), generated on demand. */
export function objectStream(offset: number, size: number, shift = 0): Readable {
  function* chunks(): Generator<Buffer> {
    for (let at = 0; at < size; at += BLOCK) yield window(offset, at, Math.min(BLOCK, size - at), shift);
  }
  return Readable.from(chunks(), { objectMode: false });
}

export interface ReadResult {
  bytes: number;
  /** Byte position of the first byte that differs from the pattern, if any. */
  firstMismatch: number | undefined;
}

/**
 * Reads `body` to its end, counting bytes and comparing them with the object at `offset` (and `shift`), block by
 * block however the chunks fall (keeps nothing).
 */
export async function drainAndCheck(body: AsyncIterable<Uint8Array>, offset: number, shift = 0): Promise<ReadResult> {
  let bytes = 0;
  let firstMismatch: number | undefined;
  for await (const chunk of body) {
    if (firstMismatch === undefined) {
      for (let done = 0; done < chunk.byteLength; ) {
        const at = bytes + done;
        const take = Math.min(BLOCK - (at % BLOCK), chunk.byteLength - done);
        const got = Buffer.from(chunk.buffer, chunk.byteOffset + done, take);
        if (!got.equals(window(offset, at, take, shift))) {
          firstMismatch = at;
          break;
        }
        done += take;
      }
    }
    bytes += chunk.byteLength;
  }
  return { bytes, firstMismatch };
}
