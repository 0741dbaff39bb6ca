/**
 * Where an upload's bytes come from, read without copying: a request body is a byte stream, so it is read
 * natively into the caller's buffers (BYOB); any other stream is taken chunk by chunk as it comes. The plain body
 * and the aws-chunked decoder (src/s3/aws-chunked.ts) both read through bodyReader.
 */

/** The client's bytes: the body as is, or decoded from aws-chunked framing. */
export interface ChunkSource {
  /** Fills `buffer` (or as much as is left); undefined once the body (and any trailer) is complete. */
  read(buffer: ArrayBuffer): Promise<Uint8Array | undefined>;
  cancel(reason: unknown): Promise<void>;
  /** Trailing headers (lower-case names), available after read() returned undefined. */
  trailers(): Record<string, string>;
}

export interface BodyReader {
  /**
   * At least `min` bytes into `buffer` (fewer only at the end of the body), or undefined at the end. The result
   * lives in the buffer the read transferred, which the caller passes to the next read. A stream that is not a
   * byte stream ignores `buffer` and answers its next chunk.
   */
  read(buffer: ArrayBuffer, min: number): Promise<Uint8Array | undefined>;
  cancel(reason: unknown): Promise<void>;
}

export function bodyReader(body: ReadableStream<Uint8Array>): BodyReader {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    byob = body.getReader({ mode: 'byob' });
  } catch {
    byob = undefined;
  }
  if (!byob) {
    const reader = body.getReader();
    return {
      async read() {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return undefined;
          if (value.byteLength > 0) return value;
        }
      },
      cancel: (reason) => reader.cancel(reason),
    };
  }
  const reader = byob;
  return {
    async read(buffer, min) {
      for (;;) {
        const { done, value } = await reader.readAtLeast(min, new Uint8Array(buffer));
        if (value && value.byteLength > 0) return value;
        if (done) return undefined;
        if (value) buffer = value.buffer as ArrayBuffer;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  };
}

/** The body as is: each read fills the whole buffer (fewer bytes only at the end). */
export function plainSource(body: ReadableStream<Uint8Array>): ChunkSource {
  const reader = bodyReader(body);
  return {
    read: (buffer) => reader.read(buffer, buffer.byteLength),
    cancel: (reason) => reader.cancel(reason),
    trailers: () => ({}),
  };
}

/**
 * A source that takes hold of the body only when first read. Until then the request body stays untouched, so a
 * request refused before its upload starts can still have its body drained (see the S3 front door).
 */
export function lazySource(open: () => ChunkSource): ChunkSource {
  let source: ChunkSource | undefined;
  const get = () => (source ??= open());
  return {
    read: (buffer) => get().read(buffer),
    cancel: (reason) => get().cancel(reason),
    trailers: () => source?.trailers() ?? {},
  };
}

/** Reads a stream in pieces of exactly the size asked for (fewer bytes only at its end). */
export interface ExactReader {
  /** `size` bytes, or fewer (possibly none) once the stream has ended. */
  read(size: number): Promise<Uint8Array>;
  /** Whether any byte is left. */
  hasMore(): Promise<boolean>;
  cancel(reason: unknown): Promise<void>;
}

export function exactReader(body: ReadableStream<Uint8Array>): ExactReader {
  const reader = bodyReader(body);
  // What a read brought beyond the piece asked for (a stream that is not a byte stream answers its own chunks).
  let carry: Uint8Array | undefined;
  let ended = false;
  const fill = async (size: number): Promise<Uint8Array> => {
    if (!carry && !ended) {
      // A byte stream fills the whole piece natively; anything else goes through the carry below.
      const got = await reader.read(new ArrayBuffer(size), size);
      if (!got) {
        ended = true;
        return new Uint8Array(0);
      }
      if (got.byteLength === size) return got;
      carry = got;
    }
    const piece = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      if (carry) {
        const take = Math.min(size - filled, carry.byteLength);
        piece.set(carry.subarray(0, take), filled);
        filled += take;
        carry = take < carry.byteLength ? carry.subarray(take) : undefined;
        continue;
      }
      if (ended) break;
      const got = await reader.read(new ArrayBuffer(size - filled), size - filled);
      if (!got) ended = true;
      else carry = got;
    }
    return piece.subarray(0, filled);
  };
  return {
    read: fill,
    async hasMore() {
      if (carry) return true;
      if (ended) return false;
      const got = await reader.read(new ArrayBuffer(1), 1);
      if (!got) ended = true;
      else carry = got;
      return carry !== undefined;
    },
    cancel: (reason) => reader.cancel(reason),
  };
}
