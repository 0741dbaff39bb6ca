/**
 * The at-rest format of an encrypted copy, as pure arithmetic: segments of fixed-size plaintext chunks, each
 * chunk sealed with AES-256-GCM under the copy's data key, its nonce derived from the segment's random base nonce
 * and its index, and its additional data binding the copy's identity (its physical key), the segment (the part
 * number of a multipart upload, 0 otherwise), the chunk index and whether it is the segment's last chunk. So a
 * chunk moved, swapped with another, taken from another object or cut off at a chunk boundary fails to open.
 *
 *   segment = header (32 bytes) | chunk 0 | chunk 1 | ... | chunk n-1 (n >= 1; an empty segment has one empty chunk)
 *   header  = "S3OE" | version 1 | chunk size (uint32 BE) | base nonce (12) | 11 zero bytes
 *   chunk i = AES-256-GCM(key, nonce_i, plaintext_i, aad_i): ciphertext | 16-byte tag
 *   nonce_i = base nonce with the big-endian uint64 i XORed into its last 8 bytes
 *   aad_i   = "S3OE" | 1 | len(identity) (uint32 BE) | identity (UTF-8) | segment (uint32 BE) | i (uint64 BE) | last (1 byte)
 *
 * See docs/storage-layout.md.
 */

export const HEADER_BYTES = 32;
export const TAG_BYTES = 16;
export const NONCE_BYTES = 12;
export const FORMAT_VERSION = 1;
const MAGIC = [0x53, 0x33, 0x4f, 0x45]; // "S3OE"

/** Whether stored bytes begin like a sealed copy (its first four bytes are enough). */
export function looksSealed(head: Uint8Array): boolean {
  return MAGIC.every((byte, i) => head[i] === byte);
}
const encoder = new TextEncoder();

export const MIN_CHUNK_SIZE = 4 * 1024;
export const MAX_CHUNK_SIZE = 1024 * 1024;

/** Chunks in a segment of `plainSize` bytes: at least one, so even an empty segment ends with a sealed last chunk. */
export function chunkCount(plainSize: number, chunkSize: number): number {
  return plainSize === 0 ? 1 : Math.ceil(plainSize / chunkSize);
}

/** Bytes a segment of `plainSize` plaintext bytes occupies on the backend. */
export function segmentStoredSize(plainSize: number, chunkSize: number): number {
  return HEADER_BYTES + plainSize + TAG_BYTES * chunkCount(plainSize, chunkSize);
}

export function encodeHeader(chunkSize: number, baseNonce: Uint8Array): Uint8Array {
  const header = new Uint8Array(HEADER_BYTES);
  header.set(MAGIC, 0);
  header[4] = FORMAT_VERSION;
  new DataView(header.buffer).setUint32(5, chunkSize);
  header.set(baseNonce, 9);
  return header;
}

/** The header's chunk size and base nonce, or undefined when the bytes are not a header of this format. */
export function parseHeader(bytes: Uint8Array): { chunkSize: number; baseNonce: Uint8Array } | undefined {
  if (bytes.byteLength !== HEADER_BYTES || MAGIC.some((b, i) => bytes[i] !== b) || bytes[4] !== FORMAT_VERSION) return undefined;
  if (bytes.subarray(9 + NONCE_BYTES).some((b) => b !== 0)) return undefined;
  const chunkSize = new DataView(bytes.buffer, bytes.byteOffset).getUint32(5);
  return { chunkSize, baseNonce: bytes.slice(9, 9 + NONCE_BYTES) };
}

export function chunkNonce(baseNonce: Uint8Array, index: number): Uint8Array {
  const nonce = baseNonce.slice();
  const view = new DataView(nonce.buffer);
  const mixed = view.getBigUint64(4) ^ BigInt(index);
  view.setBigUint64(4, mixed);
  return nonce;
}

/**
 * The additional data of one segment's chunks: the fixed prefix once, and a function that fills in a chunk's
 * index and last flag (the returned bytes are reused by the next call).
 */
export function chunkAad(identity: string, segment: number): (index: number, last: boolean) => Uint8Array {
  const id = encoder.encode(identity);
  const aad = new Uint8Array(4 + 1 + 4 + id.byteLength + 4 + 8 + 1);
  const view = new DataView(aad.buffer);
  aad.set(MAGIC, 0);
  aad[4] = FORMAT_VERSION;
  view.setUint32(5, id.byteLength);
  aad.set(id, 9);
  view.setUint32(9 + id.byteLength, segment);
  const indexAt = 13 + id.byteLength;
  return (index, last) => {
    view.setBigUint64(indexAt, BigInt(index));
    aad[indexAt + 8] = last ? 1 : 0;
    return aad;
  };
}

/** One segment of a copy: where its plaintext and its stored bytes start, how long it is, how it is sealed. */
export interface Segment {
  /** 0 for a copy written in one piece, the part number for a part of a multipart upload. */
  number: number;
  /** Offset of its first plaintext byte in the object. */
  plainStart: number;
  plainSize: number;
  /** Offset of its header in the stored copy. */
  storedStart: number;
  baseNonce: Uint8Array;
}

/** Segments of the given plaintext sizes laid end to end, as a multipart upload's backend assembles its parts. */
export function layOut(parts: readonly { number: number; plainSize: number; baseNonce: Uint8Array }[], chunkSize: number): Segment[] {
  let plainStart = 0;
  let storedStart = 0;
  return parts.map((part) => {
    const segment = { ...part, plainStart, storedStart };
    plainStart += part.plainSize;
    storedStart += segmentStoredSize(part.plainSize, chunkSize);
    return segment;
  });
}

/** One step of reading a stored copy: a header to check, or a chunk to open. */
export type ReadUnit =
  | { kind: 'header'; segment: Segment; bytes: number }
  | { kind: 'chunk'; segment: Segment; index: number; last: boolean; bytes: number };

/**
 * What to fetch for the plaintext bytes [start, end] (inclusive; the whole object when `range` is undefined) and
 * the units the fetched bytes hold, in order: only the chunks the range touches, plus the headers of the
 * segments entered after the first. `skip` plaintext bytes of the first chunk precede the range.
 */
export function planRead(
  segments: readonly Segment[],
  chunkSize: number,
  range: { start: number; end: number } | undefined,
): { stored: { start: number; end: number } | undefined; units: ReadUnit[]; skip: number; length: number } {
  const total = segments.reduce((n, s) => n + s.plainSize, 0);
  const start = range?.start ?? 0;
  const end = range?.end ?? total - 1;
  const touches = (s: Segment) => s.plainSize > 0 && s.plainStart + s.plainSize - 1 >= start && s.plainStart <= end;
  // The stored bytes are one contiguous range: every segment from the first touched to the last touched is read
  // (an empty part in between still has its header and sealed empty chunk there).
  const firstSegment = range === undefined ? 0 : segments.findIndex(touches);
  const lastSegment = range === undefined ? segments.length - 1 : segments.findLastIndex(touches);
  const units: ReadUnit[] = [];
  let storedStart = 0;
  let storedEnd = 0;
  let skip = 0;
  for (let i = firstSegment; i >= 0 && i <= lastSegment; i++) {
    const segment = segments[i]!;
    const chunks = chunkCount(segment.plainSize, chunkSize);
    const first = i === firstSegment && range !== undefined ? Math.floor((start - segment.plainStart) / chunkSize) : 0;
    const last = i === lastSegment && range !== undefined ? Math.floor((end - segment.plainStart) / chunkSize) : chunks - 1;
    if (i === firstSegment) {
      skip = range === undefined ? 0 : start - segment.plainStart - first * chunkSize;
      storedStart = segment.storedStart + (first === 0 ? 0 : HEADER_BYTES + first * (chunkSize + TAG_BYTES));
    }
    // A segment read from its first chunk has its header checked too.
    if (first === 0) units.push({ kind: 'header', segment, bytes: HEADER_BYTES });
    for (let index = first; index <= last; index++) {
      const plain = Math.min(chunkSize, segment.plainSize - index * chunkSize);
      units.push({ kind: 'chunk', segment, index, last: index === chunks - 1, bytes: plain + TAG_BYTES });
    }
    storedEnd = segment.storedStart + HEADER_BYTES + last * (chunkSize + TAG_BYTES) + (units.at(-1)?.bytes ?? 0) - 1;
  }
  const length = range === undefined ? total : end - start + 1;
  return { stored: range === undefined ? undefined : { start: storedStart, end: storedEnd }, units, skip, length };
}
