import { describe, expect, it } from 'vitest';
import { digestingStream } from '../../src/objects/body-digest.ts';
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
    const d = digestingStream({ sha256: await sha256Hex('hello world'), length: 11 });
    const out = await drain(chunks('hello', ' ', 'world').pipeThrough(d.stream));
    expect(out).toEqual({ text: 'hello world' });
    expect((await d.digests).md5Hex).toBe('5eb63bbbe01eeed093cb22bb8f5acdc3');
  });

  it('withholds the last chunk when the signed hash does not match, so a backend never completes the upload', async () => {
    const d = digestingStream({ sha256: await sha256Hex('hello world'), length: 11 });
    const out = await drain(chunks('hello', ' ', 'WORLD').pipeThrough(d.stream));
    expect(out.text).toBe('hello ');
    expect(d.failure()?.code).toBe('XAmzContentSHA256Mismatch');
  });

  it('refuses a wrong Content-MD5 and a short body', async () => {
    const md5 = digestingStream({ md5Base64: btoa('0123456789abcdef'), length: 2 });
    await drain(chunks('hi').pipeThrough(md5.stream));
    expect(md5.failure()?.code).toBe('BadDigest');
    const short = digestingStream({ length: 5 });
    await drain(chunks('hi').pipeThrough(short.stream));
    expect(short.failure()?.code).toBe('IncompleteBody');
  });
});
