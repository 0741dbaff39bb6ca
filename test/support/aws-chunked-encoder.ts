/**
 * Builds aws-chunked request bodies the way AWS SDKs do (signed chunks, trailers, trailer signatures), with
 * WebCrypto only so both workerd and Node tests can use it. Knobs let tests produce the broken forms too.
 */
const encoder = new TextEncoder();

async function hmac(key: ArrayBuffer | Uint8Array<ArrayBuffer>, data: string): Promise<ArrayBuffer> {
  const k = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, encoder.encode(data));
}

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
const sha256 = async (data: Uint8Array | string) =>
  hex(await crypto.subtle.digest('SHA-256', typeof data === 'string' ? encoder.encode(data) : new Uint8Array(data)));
const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export async function signingKey(secret: string, date: string, region: string): Promise<ArrayBuffer> {
  const kDate = await hmac(new Uint8Array(encoder.encode(`AWS4${secret}`)), date);
  return hmac(await hmac(await hmac(kDate, region), 's3'), 'aws4_request');
}

export interface ChunkedOptions {
  chunkSize: number;
  /** Sign chunks (and the trailer) with this key, chaining from the seed signature. */
  signing?: { key: ArrayBuffer; amzDate: string; scope: string; seedSignature: string };
  trailer?: { name: string; value: string };
  /** Corrupt the signature of chunk N (0-based). */
  breakChunkSignature?: number;
  /** Cut the encoded body to this many bytes. */
  truncateTo?: number;
}

export async function encodeAwsChunked(data: Uint8Array, options: ChunkedOptions): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let previous = options.signing?.seedSignature ?? '';
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += options.chunkSize) chunks.push(data.subarray(i, i + options.chunkSize));
  chunks.push(new Uint8Array(0));
  for (const [index, chunk] of chunks.entries()) {
    let header = chunk.length.toString(16);
    if (options.signing) {
      const s = options.signing;
      const toSign = ['AWS4-HMAC-SHA256-PAYLOAD', s.amzDate, s.scope, previous, EMPTY, await sha256(chunk)].join('\n');
      let signature = hex(await hmac(s.key, toSign));
      previous = signature;
      if (options.breakChunkSignature === index) signature = signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
      header += `;chunk-signature=${signature}`;
    }
    parts.push(encoder.encode(`${header}\r\n`), chunk);
    if (chunk.length > 0) parts.push(encoder.encode('\r\n'));
  }
  if (options.trailer) {
    const line = `${options.trailer.name}:${options.trailer.value}`;
    parts.push(encoder.encode(`${line}\r\n`));
    if (options.signing) {
      const s = options.signing;
      const toSign = ['AWS4-HMAC-SHA256-TRAILER', s.amzDate, s.scope, previous, await sha256(`${line}\n`)].join('\n');
      parts.push(encoder.encode(`x-amz-trailer-signature:${hex(await hmac(s.key, toSign))}\r\n`));
    }
  }
  parts.push(encoder.encode('\r\n'));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return options.truncateTo === undefined ? out : out.subarray(0, options.truncateTo);
}
