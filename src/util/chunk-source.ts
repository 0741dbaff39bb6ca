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
