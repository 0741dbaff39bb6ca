/**
 * The SHA-256 of an object version's client bytes (objects.content_sha256), which every copy is checked against.
 * An object made by CompleteMultipartUpload has it in S3's composite form: SHA-256 over the concatenated binary
 * SHA-256 of each part, then `-N` (N parts), so it can be recorded at complete from the parts' own digests without
 * reading the object again.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html#large-object-checksums
 */
import { toHex } from './encoding.ts';

/** The composite digest of parts given in order as hex SHA-256 values. */
export async function compositeSha256(partDigests: readonly string[]): Promise<string> {
  const joined = new Uint8Array(partDigests.length * 32);
  partDigests.forEach((hex, i) => {
    for (let b = 0; b < 32; b++) joined[i * 32 + b] = parseInt(hex.slice(b * 2, b * 2 + 2), 16);
  });
  return `${toHex(await crypto.subtle.digest('SHA-256', joined))}-${partDigests.length}`;
}

/** Whether a recorded digest is the composite form, which is checked part by part. */
export function isCompositeDigest(digest: string): boolean {
  return /-\d+$/.test(digest);
}

export interface ContentDigest {
  /** Hex SHA-256, or the composite form when the hasher was given part sizes. */
  digest: string;
  /** The parts' hex SHA-256 in order (composite form only). */
  parts: string[] | undefined;
  bytes: number;
}

/** A running digest of client bytes as they stream by. */
export interface ContentHasher {
  update(chunk: Uint8Array): Promise<void>;
  finish(): Promise<ContentDigest>;
}

/**
 * Hashes the whole stream, or (given the parts' sizes in order) each part's byte range separately for the
 * composite form. Bytes beyond the last part are hashed as one more part, so a copy longer than its record never
 * matches.
 */
export function createContentHasher(partSizes?: readonly number[]): ContentHasher {
  const split = createSplitHasher('SHA-256', partSizes);
  return {
    update: (chunk) => split.update(chunk),
    async finish() {
      const { digests, bytes } = await split.finish();
      if (!partSizes) return { digest: digests[0] ?? '', parts: undefined, bytes };
      return { digest: await compositeSha256(digests), parts: digests, bytes };
    },
  };
}

/** One algorithm's hex digest of the whole stream, or of each part's byte range when given the parts' sizes. */
export interface SplitHasher {
  update(chunk: Uint8Array): Promise<void>;
  finish(): Promise<{ digests: string[]; bytes: number }>;
}

export function createSplitHasher(algorithm: 'SHA-256' | 'MD5', partSizes?: readonly number[]): SplitHasher {
  let bytes = 0;
  const finished: Promise<ArrayBuffer>[] = [];
  let index = 0;
  let left = partSizes ? (partSizes[0] ?? Infinity) : Infinity;
  let stream = new crypto.DigestStream(algorithm);
  let writer = stream.getWriter();
  const nextPart = async () => {
    await writer.close();
    finished.push(stream.digest);
    index++;
    left = partSizes?.[index] ?? Infinity;
    stream = new crypto.DigestStream(algorithm);
    writer = stream.getWriter();
  };
  return {
    async update(chunk) {
      bytes += chunk.byteLength;
      let rest = chunk;
      while (rest.byteLength > 0) {
        // A part that is complete is closed only when more bytes follow: the last part closes in finish().
        if (left === 0) await nextPart();
        const take = Math.min(left, rest.byteLength);
        await writer.write(rest.subarray(0, take));
        left -= take;
        rest = rest.subarray(take);
      }
    },
    async finish() {
      // Parts of no bytes (and parts the stream never reached) still count, each with the digest of nothing.
      while (partSizes && index < partSizes.length - 1) await nextPart();
      await writer.close();
      finished.push(stream.digest);
      return { digests: (await Promise.all(finished)).map(toHex), bytes };
    },
  };
}
