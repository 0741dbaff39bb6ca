/** Copying a stored copy from one backend to another without holding it: the drain's and the replicator's copy. */
import type { BackendClient } from './client.ts';

/** Larger copies go as a multipart upload of ranged reads (a single PUT is limited to 5 GiB). */
const SINGLE_PUT_MAX = 5 * 1024 ** 3;
const COPY_PART_BYTES = 512 * 1024 ** 2;

/** Streams a copy's stored bytes between backends without holding them: one PUT, or ranged parts when large. */
export async function copyBytes(source: BackendClient, target: BackendClient, physicalKey: string, size: number): Promise<void> {
  if (size <= SINGLE_PUT_MAX) {
    const response = await source.getObject(physicalKey);
    await pipeInto(response, size, (body) => target.putObject(physicalKey, body, size));
    return;
  }
  const uploadId = await target.createMultipartUpload(physicalKey);
  try {
    const parts: { partNumber: number; etag: string }[] = [];
    for (let start = 0, partNumber = 1; start < size; start += COPY_PART_BYTES, partNumber++) {
      const end = Math.min(size, start + COPY_PART_BYTES) - 1;
      const response = await source.getObject(physicalKey, { start, end });
      const { etag } = await pipeInto(response, end - start + 1, (body) => target.uploadPart(physicalKey, uploadId, partNumber, body, end - start + 1));
      parts.push({ partNumber, etag });
    }
    await target.completeMultipartUpload(physicalKey, uploadId, parts);
  } catch (err) {
    await target.abortMultipartUpload(physicalKey, uploadId).catch(() => {});
    throw err;
  }
}

/** The body through a FixedLengthStream, so the target gets a Content-Length and a short read fails the copy. */
async function pipeInto<T>(response: Response, length: number, send: (body: ReadableStream<Uint8Array>) => Promise<T>): Promise<T> {
  if (!response.body) throw new Error('the source answered without a body');
  const fixed = new FixedLengthStream(length);
  const [sent, piped] = await Promise.allSettled([send(fixed.readable), response.body.pipeTo(fixed.writable)]);
  if (sent.status === 'rejected') throw sent.reason;
  if (piped.status === 'rejected') throw piped.reason;
  return sent.value;
}
