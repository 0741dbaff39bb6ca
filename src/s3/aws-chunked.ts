/**
 * Decoding `Content-Encoding: aws-chunked` upload bodies, verifying what they carry:
 * - STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk signed, each signature chained to the previous one;
 * - STREAMING-UNSIGNED-PAYLOAD-TRAILER: plain chunks, then trailing headers (a checksum);
 * - STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: signed chunks, then trailing headers with their own signature.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming-trailers.html
 * The decoder hands out decoded bytes as it verifies them; the upload pump withholds the last piece until the
 * decoder reached the end, so a bad signature, a bad trailer or a truncated body never completes a backend upload.
 */
import { type ChunkSource, bodyReader } from '../util/chunk-source.ts';
import { S3Error } from './errors.ts';
import { sha256Hex, toHex } from '../crypto/encoding.ts';
import { EMPTY_SHA256, hmac, timingSafeEqualText } from './sigv4.ts';

export type ChunkedMode = 'signed' | 'unsigned-trailer' | 'signed-trailer';

export const STREAMING_MODES: Record<string, ChunkedMode> = {
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'signed',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'unsigned-trailer',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'signed-trailer',
};

export interface ChunkSigning {
  key: ArrayBuffer;
  scope: string;
  amzDate: string;
  seedSignature: string;
}


const RAW_BUFFER_BYTES = 256 * 1024;
/** A chunk header or trailer line longer than this is not aws-chunked framing. */
const MAX_LINE_BYTES = 4096;
const MAX_TRAILER_LINES = 16;
/** The smallest chunk a signed aws-chunked body may send before its last data chunk. */
const MIN_CHUNK_BYTES = 8192;
const CRLF = '\r\n';

export function awsChunkedSource(body: ReadableStream<Uint8Array>, mode: ChunkedMode, signing: ChunkSigning): ChunkSource {
  const raw = rawReader(body);
  const signed = mode !== 'unsigned-trailer';
  let previousSignature = signing.seedSignature;
  let remaining = 0; // bytes left in the current chunk's data
  let chunkHash: { writer: WritableStreamDefaultWriter<Uint8Array>; digest: Promise<ArrayBuffer> } | undefined;
  let chunkSignature = '';
  let finished = false;
  /** Signed chunks seen so far, and the size of the last data chunk (only the final one may be small). */
  let chunks = 0;
  let previousSize: number | undefined;
  const trailers: Record<string, string> = {};

  const malformed = (detail: string) => new S3Error('IncompleteBody', `The aws-chunked body is malformed: ${detail}`);

  async function readLine(): Promise<string> {
    let line = '';
    for (;;) {
      const byte = await raw.byte();
      if (byte === undefined) throw malformed('it ended in the middle of a chunk header or trailer');
      line += String.fromCharCode(byte);
      if (line.endsWith(CRLF)) return line.slice(0, -2);
      if (line.length > MAX_LINE_BYTES) throw malformed('a chunk header or trailer line is too long');
    }
  }

  async function verifyChunk(hashHex: string): Promise<void> {
    const stringToSign = ['AWS4-HMAC-SHA256-PAYLOAD', signing.amzDate, signing.scope, previousSignature, EMPTY_SHA256, hashHex].join('\n');
    const expected = toHex(await hmac(signing.key, stringToSign));
    if (!timingSafeEqualText(expected, chunkSignature)) {
      throw new S3Error('SignatureDoesNotMatch', 'The chunk signature does not match; the body may have been altered in transit.');
    }
    previousSignature = chunkSignature;
  }

  async function startChunk(): Promise<boolean> {
    const header = await readLine();
    const [sizeText = '', ...extensions] = header.split(';');
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText)) throw malformed(`bad chunk size "${sizeText.slice(0, 20)}"`);
    const size = parseInt(sizeText, 16);
    chunks++;
    // https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html: every chunk but the last carries at
    // least 8 KiB. Signed modes only: SDKs send unsigned-trailer bodies in whatever pieces the stream yields.
    if (signed && size > 0 && previousSize !== undefined && previousSize < MIN_CHUNK_BYTES) {
      throw new S3Error('InvalidChunkSizeError', `Only the last chunk is allowed to have a size less than ${MIN_CHUNK_BYTES} bytes`, {
        details: { Chunk: String(chunks - 1), BadChunkSize: String(previousSize) },
      });
    }
    if (size > 0) previousSize = size;
    if (signed) {
      const signature = extensions.find((e) => e.startsWith('chunk-signature='))?.slice('chunk-signature='.length);
      if (!signature || !/^[0-9a-f]{64}$/.test(signature)) {
        throw new S3Error('SignatureDoesNotMatch', 'A chunk of a signed aws-chunked body has no valid chunk-signature.');
      }
      chunkSignature = signature;
    }
    if (size === 0) {
      if (signed) await verifyChunk(EMPTY_SHA256);
      await readTrailer();
      return false;
    }
    remaining = size;
    if (signed) {
      const stream = new crypto.DigestStream('SHA-256');
      chunkHash = { writer: stream.getWriter(), digest: stream.digest };
    }
    return true;
  }

  async function endChunk(): Promise<void> {
    if (chunkHash) {
      await chunkHash.writer.close();
      await verifyChunk(toHex(await chunkHash.digest));
      chunkHash = undefined;
    }
    if ((await readLine()) !== '') throw malformed('chunk data is not followed by CRLF');
  }

  async function readTrailer(): Promise<void> {
    const lines: string[] = [];
    let trailerSignature: string | undefined;
    for (let i = 0; ; i++) {
      if (mode === 'signed' && i === 0) {
        // Without trailers the final chunk is followed by one empty line.
        if ((await readLine()) !== '') throw malformed('the final chunk is not followed by CRLF');
        break;
      }
      const line = await readLine();
      if (line === '') break;
      if (i >= MAX_TRAILER_LINES) throw malformed('too many trailing headers');
      const colon = line.indexOf(':');
      if (colon <= 0) throw malformed('a trailing header has no name');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'x-amz-trailer-signature') trailerSignature = value;
      else {
        trailers[name] = value;
        lines.push(`${name}:${value}\n`);
      }
    }
    if (mode === 'signed-trailer') {
      const stringToSign = ['AWS4-HMAC-SHA256-TRAILER', signing.amzDate, signing.scope, previousSignature, await sha256Hex(lines.join(''))].join('\n');
      const expected = toHex(await hmac(signing.key, stringToSign));
      if (!trailerSignature || !timingSafeEqualText(expected, trailerSignature)) {
        throw new S3Error('SignatureDoesNotMatch', 'The trailer signature does not match; the trailing headers may have been altered.');
      }
    }
    if ((await raw.byte()) !== undefined) throw malformed('there are bytes after the end of the body');
  }

  return {
    async read(buffer) {
      const out = new Uint8Array(buffer);
      let filled = 0;
      while (filled < out.length && !finished) {
        if (remaining === 0) {
          if (!(await startChunk())) {
            finished = true;
            break;
          }
        }
        const piece = await raw.take(Math.min(remaining, out.length - filled));
        if (!piece) throw malformed('it ended in the middle of a chunk');
        out.set(piece, filled);
        // The write has consumed the bytes when it resolves, before the raw buffer is refilled.
        await chunkHash?.writer.write(piece);
        filled += piece.length;
        remaining -= piece.length;
        if (remaining === 0) await endChunk();
      }
      return filled > 0 ? out.subarray(0, filled) : undefined;
    },
    cancel: (reason) => raw.cancel(reason),
    trailers: () => trailers,
  };
}

/** Byte-level access to a body read in large native reads into one reused buffer. */
function rawReader(body: ReadableStream<Uint8Array>) {
  const reader = bodyReader(body);
  let buffer = new ArrayBuffer(RAW_BUFFER_BYTES);
  let view: Uint8Array = new Uint8Array(0);
  let done = false;

  async function refill(): Promise<boolean> {
    if (view.length === 0 && !done) {
      const got = await reader.read(buffer, 1);
      if (got) {
        view = got;
        // A byte stream hands back the buffer it filled (transferred) for the next read; other streams ignore it.
        buffer = got.buffer as ArrayBuffer;
      } else done = true;
    }
    return view.length > 0;
  }

  return {
    async byte(): Promise<number | undefined> {
      if (!(await refill())) return undefined;
      const b = view[0]!;
      view = view.subarray(1);
      return b;
    },
    /** Up to `max` bytes; the result is only valid until the next call. */
    async take(max: number): Promise<Uint8Array | undefined> {
      if (!(await refill())) return undefined;
      const piece = view.subarray(0, max);
      view = view.subarray(piece.length);
      return piece;
    },
    cancel: (reason: unknown) => reader.cancel(reason),
  };
}
