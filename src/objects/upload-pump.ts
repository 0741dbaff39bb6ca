/**
 * Moves an upload from the client to the backend's request body in large chunks, hashing it on the way (MD5 for
 * the ETag unless the backend's stands for it, SHA-256 for the recorded content digest, any additional checksum) and
 * checking what the client promised (x-amz-content-sha256, Content-MD5, Content-Length) before the final chunk
 * is released: on a mismatch the sink is aborted instead, so the backend sees a truncated body and never stores
 * the object.
 *
 * Why a pump and not a TransformStream: workerd hands request bodies over in small pieces, and one JavaScript
 * step per piece capped uploads near 85 MB/s. Here `readAtLeast` fills 256 KiB natively, and the three buffers are
 * reused: a write to a workerd stream resolves once its bytes have been consumed, so a buffer is free again after
 * its write settles. Memory stays at three chunks whatever the object size.
 */
import { type ChecksumAlgorithm, createChecksum } from '../crypto/checksums.ts';
import { Refusal } from './refusal.ts';
import type { ChunkSource } from '../util/chunk-source.ts';
import { base64ToHex, toHex } from '../crypto/encoding.ts';
import type { ChunkEncoder } from '../crypto/storage-transform.ts';

export interface BodyDigests {
  /** Undefined when the caller takes the ETag from the backend instead (`skipMd5`). */
  md5Hex: string | undefined;
  /** Always computed: the client's bytes' digest is recorded with the object (objects.content_sha256). */
  sha256Hex: string;
  bytes: number;
  /** The verified additional checksum when the client sent one, else the one `compute` asked for. */
  checksum: { algorithm: ChecksumAlgorithm; value: string } | undefined;
}

export interface DigestExpectations {
  /** Hex SHA-256 the signature covers, when the payload is signed. */
  sha256?: string | undefined;
  /** Base64 MD5 from Content-MD5. */
  md5Base64?: string | undefined;
  /** An x-amz-checksum-* value from a header, or (value undefined) one that arrives as a trailer. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string | undefined } | undefined;
  /** A checksum to compute when the client sent none (a multipart upload's parts all carry its algorithm's). */
  compute?: ChecksumAlgorithm | undefined;
  /** No MD5 on the Worker: the backend's ETag stands for it (objects/etag-adoption.ts); not with `md5Base64`. */
  skipMd5?: boolean | undefined;
  length: number;
}



/** Large enough to keep per-chunk overhead small, small enough that mid-sized uploads still overlap. */
export const PUMP_CHUNK_BYTES = 256 * 1024;
const BUFFERS = 3;

/**
 * Resolves with the digests once every byte is written and the sink closed. Rejects with a Refusal for what the
 * client got wrong (after aborting the sink), or with the sink's error when the backend failed.
 */
export async function pumpUpload(
  source: ChunkSource,
  sink: WritableStream<Uint8Array>,
  options: { expect: DigestExpectations; encoder: ChunkEncoder; chunkBytes?: number; signal?: AbortSignal },
): Promise<BodyDigests> {
  const { expect, encoder } = options;
  // Small objects get small buffers; one spare byte lets the last read see the end of the body.
  const chunkBytes = Math.min(options.chunkBytes ?? PUMP_CHUNK_BYTES, expect.length + 1);
  const writer = sink.getWriter();
  // When the backend gives up, nobody reads the sink any more: fail the pending write instead of waiting forever.
  options.signal?.addEventListener('abort', () => {
    writer.abort(options.signal?.reason).catch(() => {});
    source.cancel(options.signal?.reason).catch(() => {});
  });
  const md5 = expect.skipMd5 && !expect.md5Base64 ? undefined : new crypto.DigestStream('MD5');
  const sha = new crypto.DigestStream('SHA-256');
  const md5Writer = md5?.getWriter();
  const shaWriter = sha.getWriter();
  const checksumAlgorithm = expect.checksum?.algorithm ?? expect.compute;
  const checksum = checksumAlgorithm ? createChecksum(checksumAlgorithm) : undefined;
  const spare: ArrayBuffer[] = Array.from({ length: BUFFERS }, () => new ArrayBuffer(chunkBytes));
  let held: Uint8Array | undefined;
  let writing: Promise<void> = Promise.resolve();
  let bytes = 0;

  const writeChunks = async (chunks: Uint8Array[]) => {
    for (const chunk of chunks) await writer.write(chunk);
  };
  const fail = async (err: unknown): Promise<never> => {
    await writing.catch(() => {});
    await writer.abort(err).catch(() => {});
    await source.cancel(err).catch(() => {});
    throw err;
  };

  for (;;) {
    // A decoding failure (bad chunk signature, truncated framing) must also cut the backend's body short.
    const chunk = await source.read(spare.pop() ?? new ArrayBuffer(chunkBytes)).catch(fail);
    // The previous chunk's write ran while this one was read; its buffer is free once it settled.
    await writing;
    if (!chunk) break;
    bytes += chunk.byteLength;
    if (bytes > expect.length) return fail(new Refusal('body-length-mismatch', 'The request body is longer than its Content-Length'));
    await md5Writer?.write(chunk);
    await shaWriter.write(chunk);
    await checksum?.update(chunk);
    const previous = held;
    held = chunk;
    if (previous) {
      writing = encoder.update(previous).then(writeChunks).then(() => {
        spare.push(previous.buffer as ArrayBuffer);
      });
    }
  }

  await md5Writer?.close();
  await shaWriter.close();
  const digests: BodyDigests = {
    md5Hex: md5 ? toHex(await md5.digest) : undefined,
    sha256Hex: toHex(await sha.digest),
    bytes,
    checksum: checksumAlgorithm && checksum ? { algorithm: checksumAlgorithm, value: await checksum.digest() } : undefined,
  };
  const problem = check(digests, expect) ?? checkChecksum(digests, expect, source.trailers());
  if (problem) return fail(problem);
  if (held) await writeChunks(await encoder.update(held));
  await writeChunks(await encoder.final());
  await writer.close();
  return digests;
}

/** https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html */
function checkChecksum(result: BodyDigests, expect: DigestExpectations, trailers: Record<string, string>): Refusal | undefined {
  if (!expect.checksum || !result.checksum) return undefined;
  const name = `x-amz-checksum-${expect.checksum.algorithm}`;
  const promised = expect.checksum.value ?? trailers[name];
  if (promised === undefined) {
    return new Refusal('invalid-request', `The upload announced a ${name} trailer but did not send it.`);
  }
  if (promised !== result.checksum.value) {
    return new Refusal('digest-mismatch', `The ${expect.checksum.algorithm.toUpperCase()} you specified did not match the calculated checksum.`);
  }
  return undefined;
}

function check(result: BodyDigests, expect: DigestExpectations): Refusal | undefined {
  if (result.bytes !== expect.length) {
    return new Refusal('body-length-mismatch', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
  }
  if (expect.sha256 && result.sha256Hex !== expect.sha256.toLowerCase()) {
    return new Refusal('signed-hash-mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
      details: { ClientComputedContentSHA256: expect.sha256, S3ComputedContentSHA256: result.sha256Hex },
    });
  }
  if (expect.md5Base64 && base64ToHex(expect.md5Base64) !== result.md5Hex) {
    return new Refusal('digest-mismatch', 'The Content-MD5 you specified did not match what we received.');
  }
  return undefined;
}


