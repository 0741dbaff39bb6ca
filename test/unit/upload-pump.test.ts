import { describe, expect, it } from 'vitest';
import { asIsEncoder } from '../../src/crypto/storage-transform.ts';
import { pumpUpload } from '../../src/objects/upload-pump.ts';
import { plainSource } from '../../src/util/chunk-source.ts';
import { sha256Hex } from '../../src/crypto/encoding.ts';
import { concatBytes } from '../support/patterns.ts';

function chunks(...parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(encoder.encode(p));
      controller.close();
    },
  });
}

/** A sink that records what reached it, as a backend request body would receive it. */
function recordingSink() {
  const received: Uint8Array[] = [];
  let aborted: unknown;
  let closed = false;
  const sink = new WritableStream<Uint8Array>({
    write: (chunk) => {
      received.push(chunk.slice());
    },
    close: () => {
      closed = true;
    },
    abort: (reason) => {
      aborted = reason;
    },
  });
  const text = () => new TextDecoder().decode(concat(received));
  return { sink, received, text, aborted: () => aborted, closed: () => closed };
}

const concat = concatBytes;

const encoder = () => asIsEncoder;

describe('pumpUpload', () => {
  it('passes the bytes through, closes the sink and reports MD5 and SHA-256', async () => {
    const out = recordingSink();
    const digests = await pumpUpload(plainSource(chunks('hello', ' ', 'world')), out.sink, {
      expect: { sha256: await sha256Hex('hello world'), length: 11 },
      encoder: encoder(),
    });
    expect(out.text()).toBe('hello world');
    expect(out.closed()).toBe(true);
    expect(digests.md5Hex).toBe('5eb63bbbe01eeed093cb22bb8f5acdc3');
  });

  it('computes a checksum the client did not send when asked to (a multipart part of a checksummed upload)', async () => {
    const out = recordingSink();
    const digests = await pumpUpload(plainSource(chunks('1234', '56789')), out.sink, { expect: { compute: 'crc32', length: 9 }, encoder: encoder() });
    // CRC-32 check value 0xCBF43926.
    expect(digests.checksum).toEqual({ algorithm: 'crc32', value: btoa(String.fromCharCode(0xcb, 0xf4, 0x39, 0x26)) });
    // A checksum the client sent wins over the one to compute, and is verified.
    const sent = await pumpUpload(plainSource(chunks('123456789')), recordingSink().sink, {
      expect: { checksum: { algorithm: 'sha256', value: btoa(String.fromCharCode(...new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('123456789'))))) }, compute: 'crc32', length: 9 },
      encoder: encoder(),
    });
    expect(sent.checksum?.algorithm).toBe('sha256');
  });

  it('withholds the last chunk when the signed hash does not match, so a backend never completes the upload', async () => {
    const out = recordingSink();
    const result = pumpUpload(plainSource(chunks('hello', ' ', 'WORLD')), out.sink, {
      expect: { sha256: await sha256Hex('hello world'), length: 11 },
      encoder: encoder(),
    });
    await expect(result).rejects.toMatchObject({ reason: 'signed-hash-mismatch' });
    expect(out.text()).toBe('hello ');
    expect(out.closed()).toBe(false);
    expect(out.aborted()).toMatchObject({ reason: 'signed-hash-mismatch' });
  });

  it('refuses a wrong Content-MD5, a short body and a long body', async () => {
    const md5 = pumpUpload(plainSource(chunks('hi')), recordingSink().sink, { expect: { md5Base64: btoa('0123456789abcdef'), length: 2 }, encoder: encoder() });
    await expect(md5).rejects.toMatchObject({ reason: 'digest-mismatch' });
    const short = pumpUpload(plainSource(chunks('hi')), recordingSink().sink, { expect: { length: 5 }, encoder: encoder() });
    await expect(short).rejects.toMatchObject({ reason: 'body-length-mismatch' });
    const long = pumpUpload(plainSource(chunks('hello', ' world')), recordingSink().sink, { expect: { length: 5 }, encoder: encoder() });
    await expect(long).rejects.toMatchObject({ reason: 'body-length-mismatch' });
  });

  it('reads a byte stream (as request bodies are) in full chunks and reuses its buffers without mixing bytes', async () => {
    const pieces = Array.from({ length: 100 }, (_, i) => new Uint8Array(1000).fill(i));
    const source = new ReadableStream({
      type: 'bytes',
      start(controller) {
        for (const p of pieces) controller.enqueue(p.slice());
        controller.close();
      },
    });
    const out = recordingSink();
    const digests = await pumpUpload(plainSource(source), out.sink, { expect: { length: 100_000 }, encoder: encoder(), chunkBytes: 32 * 1024 });
    expect(out.received.map((c) => c.byteLength)).toEqual([32768, 32768, 32768, 1696]);
    expect(await sha256Hex(concat(out.received))).toBe(await sha256Hex(concat(pieces)));
    expect(digests.bytes).toBe(100_000);
  });

  it('stops when the backend gives up instead of waiting on a sink nobody reads', async () => {
    const stuck = new WritableStream<Uint8Array>({ write: () => new Promise(() => {}) }, { highWaterMark: 1 });
    const stop = new AbortController();
    const result = pumpUpload(plainSource(chunks('a', 'b', 'c', 'd')), stuck, { expect: { length: 4 }, encoder: encoder(), signal: stop.signal });
    stop.abort(new Error('backend answered 403'));
    await expect(result).rejects.toThrow();
  });

  it('aborts the sink when the source fails mid-body (a bad chunk signature), so the backend never completes', async () => {
    const out = recordingSink();
    let reads = 0;
    const failing = {
      read: async () => {
        reads++;
        if (reads > 2) throw Object.assign(new Error('bad chunk'), { code: 'SignatureDoesNotMatch' });
        return new Uint8Array(10).fill(reads);
      },
      cancel: async () => {},
      trailers: () => ({}),
    };
    const result = pumpUpload(failing, out.sink, { expect: { length: 100 }, encoder: encoder() });
    await expect(result).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(out.aborted()).toMatchObject({ code: 'SignatureDoesNotMatch' });
    expect(out.closed()).toBe(false);
  });
});
