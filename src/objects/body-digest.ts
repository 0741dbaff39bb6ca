/**
 * Hashes an upload while it streams and checks what the client promised (x-amz-content-sha256, Content-MD5,
 * Content-Length) before the final chunk is released: on a mismatch the stream errors instead, so the backend
 * sees a truncated body and never stores the object.
 */
import { S3Error } from '../s3/errors.ts';
import { toHex } from '../s3/sigv4.ts';

export interface BodyDigests {
  md5Hex: string;
  sha256Hex: string | undefined;
  bytes: number;
}

export interface DigestExpectations {
  /** Hex SHA-256 the signature covers, when the payload is signed. */
  sha256?: string | undefined;
  /** Base64 MD5 from Content-MD5. */
  md5Base64?: string | undefined;
  length: number;
}

export interface DigestingStream {
  stream: TransformStream<Uint8Array, Uint8Array>;
  /** Settles after the body ended: with the digests, or with the S3Error that failed the stream. */
  digests: Promise<BodyDigests>;
  /** The S3Error that failed the stream, if it failed on the client's side (checked after a failed upload). */
  failure(): S3Error | undefined;
}

export function digestingStream(expect: DigestExpectations): DigestingStream {
  const md5 = new crypto.DigestStream('MD5');
  const sha = expect.sha256 ? new crypto.DigestStream('SHA-256') : undefined;
  const md5Writer = md5.getWriter();
  const shaWriter = sha?.getWriter();
  let held: Uint8Array | undefined;
  let bytes = 0;
  let failed: S3Error | undefined;
  let settle: { resolve(d: BodyDigests): void; reject(e: S3Error): void } | undefined;
  const digests = new Promise<BodyDigests>((resolve, reject) => {
    settle = {
      resolve,
      reject: (e) => {
        failed = e;
        reject(e);
      },
    };
  });
  // The caller may never await digests when the backend call failed first.
  digests.catch(() => {});

  const stream = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      bytes += chunk.byteLength;
      if (bytes > expect.length) {
        const err = new S3Error('IncompleteBody', 'The request body is longer than its Content-Length');
        settle?.reject(err);
        throw err;
      }
      await md5Writer.write(chunk);
      await shaWriter?.write(chunk);
      if (held) controller.enqueue(held);
      held = chunk;
    },
    async flush(controller) {
      await md5Writer.close();
      await shaWriter?.close();
      const result: BodyDigests = {
        md5Hex: toHex(await md5.digest),
        sha256Hex: sha ? toHex(await sha.digest) : undefined,
        bytes,
      };
      const problem = check(result, expect);
      if (problem) {
        settle?.reject(problem);
        throw problem;
      }
      settle?.resolve(result);
      if (held) controller.enqueue(held);
    },
  });
  return { stream, digests, failure: () => failed };
}

function check(result: BodyDigests, expect: DigestExpectations): S3Error | undefined {
  if (result.bytes !== expect.length) {
    return new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
  }
  if (expect.sha256 && result.sha256Hex !== expect.sha256.toLowerCase()) {
    return new S3Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", {
      details: { ClientComputedContentSHA256: expect.sha256, S3ComputedContentSHA256: result.sha256Hex ?? '' },
    });
  }
  if (expect.md5Base64 && base64ToHex(expect.md5Base64) !== result.md5Hex) {
    return new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  return undefined;
}

export function base64ToHex(b64: string): string | undefined {
  try {
    const binary = atob(b64);
    let hex = '';
    for (let i = 0; i < binary.length; i++) hex += binary.charCodeAt(i).toString(16).padStart(2, '0');
    return hex;
  } catch {
    return undefined;
  }
}
