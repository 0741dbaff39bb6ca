import { describe, expect, it } from 'vitest';
import { digestingBody } from '../../src/objects/body-digest.ts';
import { sha256Hex } from '../../src/s3/sigv4.ts';

function chunks(...parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(encoder.encode(p));
      controller.close();
    },
  });
}

async function drain(stream: ReadableStream<Uint8Array>): Promise<{ text: string; error?: unknown }> {
  let text = '';
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text };
      text += decoder.decode(value);
    }
  } catch (error) {
    return { text, error };
  }
}

describe('digestingStream', () => {
  it('passes the bytes through and reports MD5 and SHA-256', async () => {
    const d = digestingBody(chunks('hello', ' ', 'world'), { sha256: await sha256Hex('hello world'), length: 11 });
    const out = await drain(d.stream);
    expect(out).toEqual({ text: 'hello world' });
    expect((await d.digests).md5Hex).toBe('5eb63bbbe01eeed093cb22bb8f5acdc3');
  });

  it('withholds the last chunk when the signed hash does not match, so a backend never completes the upload', async () => {
    const d = digestingBody(chunks('hello', ' ', 'WORLD'), { sha256: await sha256Hex('hello world'), length: 11 });
    const out = await drain(d.stream);
    expect(out.text).toBe('hello ');
    expect(d.failure()?.code).toBe('XAmzContentSHA256Mismatch');
  });

  it('refuses a wrong Content-MD5 and a short body', async () => {
    const md5 = digestingBody(chunks('hi'), { md5Base64: btoa('0123456789abcdef'), length: 2 });
    await drain(md5.stream);
    expect(md5.failure()?.code).toBe('BadDigest');
    const short = digestingBody(chunks('hi'), { length: 5 });
    await drain(short.stream);
    expect(short.failure()?.code).toBe('IncompleteBody');
  });

  it('re-reads a byte stream in large chunks (as it does request bodies) without changing the bytes', async () => {
    const pieces = Array.from({ length: 100 }, (_, i) => new Uint8Array(1000).fill(i));
    // A byte stream, like a request body, so the digest reads it with readAtLeast.
    const source = new ReadableStream({
      type: 'bytes',
      start(controller) {
        for (const p of pieces) controller.enqueue(p.slice());
        controller.close();
      },
    });
    const d = digestingBody(source, { length: 100_000 }, 32 * 1024);
    const sizes: number[] = [];
    const received = new Uint8Array(100_000);
    const reader = d.stream.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received.set(value, sizes.reduce((a, b) => a + b, 0));
      sizes.push(value.byteLength);
    }
    expect(sizes).toEqual([32768, 32768, 32768, 1696]);
    const expected = new Uint8Array(100_000);
    pieces.forEach((p, i) => expected.set(p, i * 1000));
    expect(await sha256Hex(received)).toBe(await sha256Hex(expected));
    expect((await d.digests).bytes).toBe(100_000);
  });

  it('fails a body longer than its Content-Length', async () => {
    const d = digestingBody(chunks('hello world'), { length: 5 });
    await drain(d.stream);
    expect(d.failure()?.code).toBe('IncompleteBody');
  });
});
