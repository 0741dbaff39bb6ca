/**
 * Sealing and opening the chunks of the at-rest format (envelope-format.ts) with WebCrypto's AES-256-GCM, in
 * streams whose memory is bounded by two chunks whatever the object size.
 */
import { exactReader } from '../util/chunk-source.ts';
import {
  NONCE_BYTES,
  type ReadUnit,
  chunkAad,
  chunkNonce,
  encodeHeader,
  parseHeader,
} from './envelope-format.ts';
import type { ChunkEncoder } from './storage-transform.ts';

/** A copy's data key, ready for AES-GCM. */
export function importDataKey(raw: Uint8Array): Promise<CryptoKey> {
  return crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

export function newDataKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(32));
}

export function newBaseNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
}

/** Why stored bytes did not open: a chunk failed its tag, a header was not ours, or the bytes ended early or late. */
export class CiphertextError extends Error {
  readonly problem: 'tampered' | 'bad-header' | 'truncated' | 'trailing-bytes';
  constructor(problem: CiphertextError['problem'], message: string) {
    super(message);
    this.name = 'CiphertextError';
    this.problem = problem;
  }
}

export interface SegmentSeal {
  key: CryptoKey;
  /** What the chunks are bound to: the copy's physical key. */
  identity: string;
  /** 0, or the part number. */
  segment: number;
  chunkSize: number;
  baseNonce: Uint8Array;
}

/**
 * Encrypts one segment as its plaintext arrives: the header first, then each chunk once it is full and more
 * follows (the last chunk is sealed as last only at final()).
 */
export function sealingEncoder(seal: SegmentSeal): ChunkEncoder {
  const { key, chunkSize, baseNonce } = seal;
  const aad = chunkAad(seal.identity, seal.segment);
  const pending = new Uint8Array(chunkSize);
  let filled = 0;
  let index = 0;
  let headerSent = false;
  const sealChunk = async (plain: Uint8Array, last: boolean): Promise<Uint8Array> => {
    const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv: chunkNonce(baseNonce, index), additionalData: aad(index, last) }, key, plain);
    index++;
    return new Uint8Array(sealed);
  };
  const header = (out: Uint8Array[]) => {
    if (headerSent) return;
    headerSent = true;
    out.push(encodeHeader(chunkSize, baseNonce));
  };
  return {
    async update(chunk) {
      const out: Uint8Array[] = [];
      header(out);
      let offset = 0;
      while (offset < chunk.byteLength) {
        if (filled === chunkSize) {
          // More bytes follow, so the held chunk is not the last.
          out.push(await sealChunk(pending, false));
          filled = 0;
        }
        if (filled === 0 && chunk.byteLength - offset > chunkSize) {
          // A whole chunk with more after it: sealed straight from the input, without a copy.
          out.push(await sealChunk(chunk.subarray(offset, offset + chunkSize), false));
          offset += chunkSize;
          continue;
        }
        const take = Math.min(chunkSize - filled, chunk.byteLength - offset);
        pending.set(chunk.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
      }
      return out;
    },
    async final() {
      const out: Uint8Array[] = [];
      header(out);
      out.push(await sealChunk(pending.subarray(0, filled), true));
      filled = 0;
      return out;
    },
  };
}

/** Chunks read and opened together: fewer trips through the stream reader, and the decryptions overlap. */
const CHUNKS_AT_ONCE = 4;

type ChunkUnit = Extract<ReadUnit, { kind: 'chunk' }>;

export interface OpenPlan {
  key: CryptoKey;
  identity: string;
  chunkSize: number;
  units: readonly ReadUnit[];
  /** Plaintext bytes of the first chunk before the wanted range. */
  skip: number;
  /** Plaintext bytes wanted. */
  length: number;
}

/**
 * The plaintext of `stored` (the bytes the plan's units occupy, in order), exactly `length` bytes after `skip`,
 * once its first chunks have opened: stored bytes that fail there reject the promise (before anything reached the
 * client). Later the stream errors with a CiphertextError on the first chunk that does not open, a header that does
 * not match, or bytes that end early or run on (reported to `onError` too), so a client never receives
 * unauthenticated bytes. One stream layer over the stored body.
 */
export async function openingStream(
  stored: ReadableStream<Uint8Array>,
  plan: OpenPlan,
  onError: (err: unknown) => void = () => {},
): Promise<ReadableStream<Uint8Array>> {
  const reader = exactReader(stored);
  const aads = new Map<number, (index: number, last: boolean) => Uint8Array>();
  let position = 0;
  let skip = plan.skip;
  let remaining = plan.length;
  const aadOf = (segment: number) => {
    let aad = aads.get(segment);
    if (!aad) aads.set(segment, (aad = chunkAad(plan.identity, segment)));
    return aad;
  };
  const step = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> => {
    try {
      await emitNext(controller);
    } catch (err) {
      // The stored bytes are not read any further.
      await reader.cancel(err).catch(() => {});
      throw err;
    }
  };
  let first!: Promise<void>;
  const stream = new ReadableStream<Uint8Array>({
    start: (controller) => {
      first = step(controller);
      return first;
    },
    pull: (controller) =>
      step(controller).catch((err: unknown) => {
        onError(err);
        throw err;
      }),
    cancel: (reason) => reader.cancel(reason),
  });
  await first;
  return stream;

  async function emitNext(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      const unit = plan.units[position];
      if (!unit) {
        if (await reader.hasMore()) throw new CiphertextError('trailing-bytes', 'the stored copy is longer than its record says');
        controller.close();
        return;
      }
      const bytes = await reader.read(unit.bytes);
      if (bytes.byteLength < unit.bytes) throw new CiphertextError('truncated', 'the stored copy ends before its last chunk');
      position++;
      if (unit.kind === 'header') {
        const header = parseHeader(bytes);
        if (!header || header.chunkSize !== plan.chunkSize || !sameBytes(header.baseNonce, unit.segment.baseNonce)) {
          throw new CiphertextError('bad-header', `segment ${unit.segment.number} does not start with the header its record names`);
        }
        continue;
      }
      // Up to CHUNKS_AT_ONCE consecutive chunks come in one read and open side by side.
      const group: ChunkUnit[] = [unit];
      for (let next = plan.units[position]; next?.kind === 'chunk' && group.length < CHUNKS_AT_ONCE; next = plan.units[position]) {
        group.push(next);
        position++;
      }
      const more = group.length > 1 ? await reader.read(group.slice(1).reduce((n, u) => n + u.bytes, 0)) : new Uint8Array(0);
      if (more.byteLength < group.slice(1).reduce((n, u) => n + u.bytes, 0)) throw new CiphertextError('truncated', 'the stored copy ends before its last chunk');
      let offset = 0;
      const opened = await Promise.all(
        group.map((u, i) => {
          const sealed = i === 0 ? bytes : more.subarray(offset, (offset += u.bytes));
          const iv = chunkNonce(u.segment.baseNonce, u.index);
          return crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: aadOf(u.segment.number)(u.index, u.last) }, plan.key, sealed).then(
            (plain) => new Uint8Array(plain),
            () => {
              throw new CiphertextError('tampered', `chunk ${u.index} of segment ${u.segment.number} failed authentication`);
            },
          );
        }),
      );
      let enqueued = false;
      for (const plain of opened) {
        const from = Math.min(skip, plain.byteLength);
        skip -= from;
        const take = Math.min(remaining, plain.byteLength - from);
        remaining -= take;
        if (take > 0) {
          controller.enqueue(plain.subarray(from, from + take));
          enqueued = true;
        }
      }
      if (enqueued) return;
    }
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && a.every((byte, i) => byte === b[i]);
}
