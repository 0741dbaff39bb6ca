/**
 * An S3 backend in memory behind the BackendClient interface, answering as S3 answers: request bodies are read to
 * the end (a body shorter or longer than its length fails the call, as S3's IncompleteBody does), ETags are the
 * MD5 of the bytes (and `md5-of-md5s-N` for a multipart object), a missing key or upload is a 404 BackendError,
 * and CompleteMultipartUpload checks the part list the way S3 does. Tests make it fail on purpose: the next calls of
 * an operation, every call while it is down, or a call held until the test releases it (to stage races).
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
 */
import { type BackendClient, type BackendPartPage, BackendError } from '../../../src/backends/client.ts';
import { randomHex, toHex } from '../../../src/crypto/encoding.ts';
import type { ByteRange } from '../../../src/util/byte-range.ts';

export type BackendOperation = Exclude<keyof BackendClient, 'name'>;

/** A call the test holds: `reached` resolves once the call got there (a PUT's body fully read), `release` lets it answer. */
export interface HeldCall {
  reached: Promise<void>;
  release(): void;
}

export interface MemoryBackend extends BackendClient {
  /** Stored objects by physical key (what a listing of the backend's bucket would show). */
  readonly objects: ReadonlyMap<string, Uint8Array>;
  /** Multipart uploads in progress, by upload id. */
  readonly uploads: ReadonlyMap<string, { physicalKey: string; parts: ReadonlyMap<number, StoredPart> }>;
  /** Calls answered or failed so far, per operation. */
  readonly calls: Readonly<Record<BackendOperation, number>>;
  /** The next `times` calls of the operation fail with `status` (0: unreachable; 503 by default). */
  failNext(operation: BackendOperation, times?: number, status?: number): void;
  /** Every call fails as unreachable (status 0) until `up()`. */
  down(): void;
  up(): void;
  /** The next call of the operation waits before it answers (after reading its body) until released. */
  hold(operation: BackendOperation): HeldCall;
  /** Drops a stored object behind the orchestrator's back (lost bytes, a bucket emptied by hand). */
  lose(physicalKey: string): void;
  /** How PutObject's ETag answers are made from the stored bytes (default: their quoted MD5, as S3 does). */
  answerEtags(make: ((bytes: Uint8Array) => Promise<string>) | undefined): void;
  /** Replaces a stored object's bytes behind the orchestrator's back (someone with access to the bucket). */
  tamper(physicalKey: string, change: (bytes: Uint8Array) => Uint8Array): void;
}

export interface StoredPart {
  bytes: Uint8Array;
  etag: string;
}

/** S3's smallest part, except the last: https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html */
const MIN_PART_BYTES = 5 * 1024 * 1024;

/** Response bodies come in chunks of this size, so readers see a stream, not one buffer. */
const RESPONSE_CHUNK_BYTES = 64 * 1024;

export function createMemoryBackend(name: string): MemoryBackend {
  const objects = new Map<string, Uint8Array>();
  let etagAnswer: ((bytes: Uint8Array) => Promise<string>) | undefined;
  const uploads = new Map<string, { physicalKey: string; parts: Map<number, StoredPart> }>();
  const calls: Record<BackendOperation, number> = {
    putObject: 0,
    getObject: 0,
    deleteObject: 0,
    deleteObjects: 0,
    copyObject: 0,
    createMultipartUpload: 0,
    uploadPart: 0,
    completeMultipartUpload: 0,
    listParts: 0,
    abortMultipartUpload: 0,
    listObjects: 0,
  };
  const failures = new Map<BackendOperation, { times: number; status: number }>();
  const holds = new Map<BackendOperation, { arrive(): void; released: Promise<void> }>();
  let isDown = false;

  /** Counts the call and throws the failure staged for it, if any. */
  function enter(operation: BackendOperation): void {
    calls[operation]++;
    if (isDown) throw new BackendError(name, 0, `${operation} failed: connection refused`);
    const failure = failures.get(operation);
    if (!failure) return;
    if (--failure.times <= 0) failures.delete(operation);
    throw new BackendError(name, failure.status, failure.status === 0 ? `${operation} failed: connection refused` : `${operation} answered ${failure.status} ServiceUnavailable`);
  }

  /** Waits here when the test holds this call. */
  async function gate(operation: BackendOperation): Promise<void> {
    const held = holds.get(operation);
    if (!held) return;
    holds.delete(operation);
    held.arrive();
    await held.released;
  }

  /** Reads a request body to its end, as a server does; a length that does not match fails the call. */
  async function receive(operation: BackendOperation, body: ReadableStream<Uint8Array>, length: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let received = 0;
    try {
      for await (const chunk of body) {
        chunks.push(chunk.slice());
        received += chunk.byteLength;
      }
    } catch (err) {
      // The sender broke the stream off: the connection fails, as fetch reports it.
      throw new BackendError(name, 0, `${operation} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (received !== length) throw new BackendError(name, 400, `${operation} answered 400 IncompleteBody`);
    const bytes = new Uint8Array(received);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return bytes;
  }

  /** Refuses a call before reading its body; the body is cancelled, as a server closing the connection does. */
  async function refuseBody(body: ReadableStream<Uint8Array>, err: unknown): Promise<never> {
    await body.cancel(err).catch(() => {});
    throw err;
  }

  function upload(operation: BackendOperation, physicalKey: string, uploadId: string) {
    const found = uploads.get(uploadId);
    if (!found || found.physicalKey !== physicalKey) throw new BackendError(name, 404, `${operation} answered 404 NoSuchUpload`);
    return found;
  }

  return {
    name,
    objects,
    uploads,
    calls,
    failNext(operation, times = 1, status = 503) {
      failures.set(operation, { times, status });
    },
    down() {
      isDown = true;
    },
    up() {
      isDown = false;
    },
    tamper(physicalKey, change) {
      const bytes = objects.get(physicalKey);
      if (!bytes) throw new Error(`no object ${physicalKey} on ${name}`);
      objects.set(physicalKey, change(bytes.slice()));
    },
    hold(operation) {
      let arrive!: () => void;
      let release!: () => void;
      const reached = new Promise<void>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      holds.set(operation, { arrive, released });
      return { reached, release };
    },
    lose(physicalKey) {
      objects.delete(physicalKey);
    },
    answerEtags(make) {
      etagAnswer = make;
    },

    async putObject(physicalKey, body, length) {
      try {
        enter('putObject');
      } catch (err) {
        return refuseBody(body, err);
      }
      const bytes = await receive('putObject', body, length);
      await gate('putObject');
      objects.set(physicalKey, bytes);
      return { etag: etagAnswer ? await etagAnswer(bytes) : `"${await md5Hex(bytes)}"` };
    },
    async getObject(physicalKey, range) {
      enter('getObject');
      await gate('getObject');
      const bytes = objects.get(physicalKey);
      if (!bytes) throw new BackendError(name, 404, 'GET answered 404 NoSuchKey');
      const etag = `"${await md5Hex(bytes)}"`;
      if (!range) return new Response(chunked(bytes), { status: 200, headers: { 'content-length': String(bytes.byteLength), etag } });
      if (range.start >= bytes.byteLength || range.end < range.start) throw new BackendError(name, 416, 'GET answered 416 InvalidRange');
      const part = rangeOf(bytes, range);
      return new Response(chunked(part), {
        status: 206,
        headers: {
          'content-length': String(part.byteLength),
          'content-range': `bytes ${range.start}-${range.start + part.byteLength - 1}/${bytes.byteLength}`,
          etag,
        },
      });
    },
    async deleteObject(physicalKey) {
      enter('deleteObject');
      await gate('deleteObject');
      objects.delete(physicalKey);
    },
    async deleteObjects(physicalKeys) {
      enter('deleteObjects');
      await gate('deleteObjects');
      for (const key of physicalKeys) objects.delete(key);
      return { kind: 'answered', failed: new Map() };
    },
    async copyObject(sourcePhysicalKey, targetPhysicalKey) {
      enter('copyObject');
      await gate('copyObject');
      const bytes = objects.get(sourcePhysicalKey);
      if (!bytes) throw new BackendError(name, 404, 'COPY answered 404 NoSuchKey');
      objects.set(targetPhysicalKey, bytes);
    },
    async createMultipartUpload(physicalKey) {
      enter('createMultipartUpload');
      await gate('createMultipartUpload');
      const uploadId = randomHex(16);
      uploads.set(uploadId, { physicalKey, parts: new Map() });
      return uploadId;
    },
    async uploadPart(physicalKey, uploadId, partNumber, body, length) {
      let target;
      try {
        enter('uploadPart');
        target = upload('uploadPart', physicalKey, uploadId);
      } catch (err) {
        return refuseBody(body, err);
      }
      const bytes = await receive('uploadPart', body, length);
      await gate('uploadPart');
      // Uploading a part number again replaces the part (the last to arrive wins).
      const etag = `"${await md5Hex(bytes)}"`;
      target.parts.set(partNumber, { bytes, etag });
      return { etag };
    },
    async completeMultipartUpload(physicalKey, uploadId, parts) {
      enter('completeMultipartUpload');
      await gate('completeMultipartUpload');
      const target = upload('completeMultipartUpload', physicalKey, uploadId);
      if (parts.length === 0) throw new BackendError(name, 400, 'CompleteMultipartUpload answered 400 MalformedXML');
      const chosen: StoredPart[] = [];
      let previous = 0;
      for (const [i, listed] of parts.entries()) {
        if (listed.partNumber <= previous) throw new BackendError(name, 400, 'CompleteMultipartUpload answered 400 InvalidPartOrder');
        previous = listed.partNumber;
        const part = target.parts.get(listed.partNumber);
        if (!part || opaque(part.etag) !== opaque(listed.etag)) throw new BackendError(name, 400, 'CompleteMultipartUpload answered 400 InvalidPart');
        if (i < parts.length - 1 && part.bytes.byteLength < MIN_PART_BYTES) throw new BackendError(name, 400, 'CompleteMultipartUpload answered 400 EntityTooSmall');
        chosen.push(part);
      }
      const bytes = new Uint8Array(chosen.reduce((n, p) => n + p.bytes.byteLength, 0));
      let offset = 0;
      for (const part of chosen) {
        bytes.set(part.bytes, offset);
        offset += part.bytes.byteLength;
      }
      objects.set(physicalKey, bytes);
      uploads.delete(uploadId);
    },
    async listParts(physicalKey, uploadId, after, max): Promise<BackendPartPage> {
      enter('listParts');
      await gate('listParts');
      const target = upload('listParts', physicalKey, uploadId);
      const numbers = [...target.parts.keys()].filter((n) => n > after).sort((a, b) => a - b);
      const page = numbers.slice(0, max);
      return { parts: page.map((partNumber) => ({ partNumber, etag: target.parts.get(partNumber)?.etag ?? '' })), truncated: numbers.length > page.length };
    },
    /** Every object shows as written at the epoch: old enough for any safety age. */
    async listObjects(prefix, after, max) {
      enter('listObjects');
      await gate('listObjects');
      const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || k > after)).sort();
      const page = keys.slice(0, max);
      const listed = await Promise.all(page.map(async (key) => ({ key, size: objects.get(key)?.byteLength ?? 0, etag: `"${await md5Hex(objects.get(key) ?? new Uint8Array())}"`, lastModified: 0 })));
      return { objects: listed, truncated: keys.length > page.length };
    },
    async abortMultipartUpload(physicalKey, uploadId) {
      enter('abortMultipartUpload');
      await gate('abortMultipartUpload');
      const found = uploads.get(uploadId);
      if (found?.physicalKey === physicalKey) uploads.delete(uploadId);
    },
  };
}

/** The ETag S3 gives an object assembled from parts: MD5 of the parts' binary MD5s, then `-` and the part count. */
export async function multipartEtag(partEtags: readonly string[]): Promise<string> {
  const joined = new Uint8Array(partEtags.length * 16);
  partEtags.forEach((etag, i) => {
    const hex = opaque(etag);
    for (let b = 0; b < 16; b++) joined[i * 16 + b] = parseInt(hex.slice(b * 2, b * 2 + 2), 16);
  });
  return `"${await md5Hex(joined)}-${partEtags.length}"`;
}

export async function md5Hex(bytes: Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.digest('MD5', bytes));
}

function opaque(etag: string): string {
  return etag.replace(/^"(.*)"$/, '$1');
}

function rangeOf(bytes: Uint8Array, range: ByteRange): Uint8Array {
  return bytes.subarray(range.start, Math.min(range.end, bytes.byteLength - 1) + 1);
}

function chunked(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let offset = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (offset >= bytes.byteLength) {
        controller.close();
        return;
      }
      controller.enqueue(bytes.slice(offset, offset + RESPONSE_CHUNK_BYTES));
      offset += RESPONSE_CHUNK_BYTES;
    },
  });
}
