import { describe, expect, it } from 'vitest';
import { asIsEncoder } from '../../src/crypto/storage-transform.ts';
import { pumpUpload } from '../../src/objects/upload-pump.ts';
import { plainSource } from '../../src/util/chunk-source.ts';
import { type ChunkedMode, awsChunkedSource } from '../../src/s3/aws-chunked.ts';
import { createChecksum } from '../../src/crypto/checksums.ts';
import { sha256Hex } from '../../src/crypto/encoding.ts';
import { isRefusal } from '../../src/objects/refusal.ts';
import { s3ErrorOf } from '../../src/s3/refusals.ts';
import { type ChunkedOptions, encodeAwsChunked, signingKey } from '../support/aws-chunked-encoder.ts';

const data = new Uint8Array(200_000).map((_, i) => (i * 31 + 7) & 0xff);
const amzDate = '20261126T120000Z';
const scope = '20261126/us-east-1/s3/aws4_request';
const seedSignature = 'a'.repeat(64);

async function signing() {
  return { key: await signingKey('test-secret-key', '20261126', 'us-east-1'), amzDate, scope, seedSignature };
}

function bodyOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  // Deliver in awkward pieces, as a network would, so framing straddles reads.
  return new ReadableStream({
    start(controller) {
      for (let i = 0; i < bytes.length; i += 7001) controller.enqueue(bytes.slice(i, i + 7001));
      controller.close();
    },
  });
}

async function crc32Of(bytes: Uint8Array): Promise<string> {
  const sum = createChecksum('crc32');
  await sum.update(bytes);
  return sum.digest();
}

/** Decodes through the upload pump into memory, as a PUT would into a backend. */
async function upload(mode: ChunkedMode, options: ChunkedOptions, checksum?: { algorithm: 'crc32'; value: string | undefined }) {
  const sign = await signing();
  const encoded = await encodeAwsChunked(data, options);
  const received: Uint8Array[] = [];
  const sink = new WritableStream<Uint8Array>({ write: (c) => void received.push(c.slice()) });
  const source = awsChunkedSource(bodyOf(encoded), mode, sign);
  const result = await pumpUpload(source, sink, {
    expect: { length: data.length, checksum },
    encoder: asIsEncoder,
    chunkBytes: 64 * 1024,
  }).then(
    (digests) => ({ ok: true as const, digests }),
    // As the client would see it: the pump's refusals in their S3 form.
    (error: unknown) => ({ ok: false as const, error: isRefusal(error) ? s3ErrorOf(error) : error }),
  );
  const all = new Uint8Array(received.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of received) {
    all.set(c, at);
    at += c.length;
  }
  return { result, received: all, trailers: source.trailers() };
}

describe('aws-chunked decoding', () => {
  it('decodes signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), verifying every signature', async () => {
    const out = await upload('signed', { chunkSize: 65536, signing: await signing() });
    expect(out.result.ok).toBe(true);
    expect(await sha256Hex(out.received)).toBe(await sha256Hex(data));
  });

  it('decodes unsigned chunks with a CRC32 trailer and checks it', async () => {
    const value = await crc32Of(data);
    const out = await upload('unsigned-trailer', { chunkSize: 8192, trailer: { name: 'x-amz-checksum-crc32', value } }, { algorithm: 'crc32', value: undefined });
    expect(out.result).toMatchObject({ ok: true, digests: { checksum: { algorithm: 'crc32', value } } });
    expect(out.trailers).toEqual({ 'x-amz-checksum-crc32': value });
    expect(await sha256Hex(out.received)).toBe(await sha256Hex(data));
  });

  it('decodes signed chunks with a signed trailer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER)', async () => {
    const value = await crc32Of(data);
    const out = await upload(
      'signed-trailer',
      { chunkSize: 65536, signing: await signing(), trailer: { name: 'x-amz-checksum-crc32', value } },
      { algorithm: 'crc32', value: undefined },
    );
    expect(out.result.ok).toBe(true);
  });

  it('refuses a signed chunk under 8 KiB that is not the last one (InvalidChunkSizeError); the last may be small', async () => {
    const small = await upload('signed', { chunkSize: 4096, signing: await signing() });
    expect(small.result).toMatchObject({ ok: false, error: { code: 'InvalidChunkSizeError', details: { Chunk: '1', BadChunkSize: '4096' } } });
    expect(small.received.length).toBeLessThan(data.length);
    // 8 KiB chunks of a body that is not a multiple of 8 KiB: a small last chunk is fine.
    expect(data.length % 8192).not.toBe(0);
    expect((await upload('signed', { chunkSize: 8192, signing: await signing() })).result.ok).toBe(true);
    // Unsigned trailer bodies come in whatever pieces an SDK's stream yields; they are not held to it.
    expect((await upload('unsigned-trailer', { chunkSize: 1000 })).result.ok).toBe(true);
  });

  it('refuses a chunk signature that does not chain, before releasing the end of the body', async () => {
    const out = await upload('signed', { chunkSize: 65536, signing: await signing(), breakChunkSignature: 1 });
    expect(out.result).toMatchObject({ ok: false, error: { code: 'SignatureDoesNotMatch' } });
    expect(out.received.length).toBeLessThan(data.length);
  });

  it('refuses a wrong trailing checksum with BadDigest', async () => {
    const out = await upload(
      'unsigned-trailer',
      { chunkSize: 8192, trailer: { name: 'x-amz-checksum-crc32', value: 'AAAAAA==' } },
      { algorithm: 'crc32', value: undefined },
    );
    expect(out.result).toMatchObject({ ok: false, error: { code: 'BadDigest' } });
    expect(out.received.length).toBeLessThan(data.length);
  });

  it('refuses a trailer altered after signing', async () => {
    const sign = await signing();
    const encoded = await encodeAwsChunked(data, { chunkSize: 65536, signing: sign, trailer: { name: 'x-amz-checksum-crc32', value: await crc32Of(data) } });
    const text = new TextDecoder('latin1').decode(encoded);
    const tampered = Uint8Array.from(text.replace(/x-amz-checksum-crc32:[^\r]*/, 'x-amz-checksum-crc32:AAAAAA=='), (c) => c.charCodeAt(0));
    const source = awsChunkedSource(bodyOf(tampered), 'signed-trailer', sign);
    const result = pumpUpload(source, new WritableStream(), {
      expect: { length: data.length, checksum: { algorithm: 'crc32', value: undefined } },
      encoder: asIsEncoder,
    });
    await expect(result).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' });
  });

  it('refuses a truncated body and garbage framing with IncompleteBody', async () => {
    const truncated = await upload('signed', { chunkSize: 65536, signing: await signing(), truncateTo: 100_000 });
    expect(truncated.result).toMatchObject({ ok: false, error: { code: 'IncompleteBody' } });
    const garbage = awsChunkedSource(plainBody('zz;chunk-signature=00\r\nhello'), 'unsigned-trailer', await signing());
    await expect(garbage.read(new ArrayBuffer(16))).rejects.toMatchObject({ code: 'IncompleteBody' });
  });

  it('leaves plain bodies alone (plainSource has no trailers)', async () => {
    expect(plainSource(plainBody('x')).trailers()).toEqual({});
  });
});

function plainBody(text: string): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text));
      controller.close();
    },
  });
}
