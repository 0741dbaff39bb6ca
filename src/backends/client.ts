/**
 * Outbound S3 calls to one backend, re-signed with aws4fetch. Bodies stream through untouched; the payload is
 * signed as UNSIGNED-PAYLOAD so nothing ever reads a body to hash it.
 */
import type { ByteRange } from '../util/byte-range.ts';
import { AwsClient } from 'aws4fetch';
import type { BackendConfig } from '../config/types.ts';
import { sha256Hex, toBase64, uriEncode } from '../crypto/encoding.ts';
import { backendCopySource, backendObjectUrl } from './object-path.ts';
import { escapeXml as escapeXmlText } from '../util/xml.ts';

export class BackendError extends Error {
  readonly backendName: string;
  /** The backend's HTTP status, or 0 when it could not be reached. */
  readonly status: number;
  constructor(backendName: string, status: number, message: string) {
    super(`backend ${backendName}: ${message}`);
    this.name = 'BackendError';
    this.backendName = backendName;
    this.status = status;
  }
}

export interface BackendClient {
  readonly name: string;
  putObject(physicalKey: string, body: ReadableStream<Uint8Array>, length: number): Promise<{ etag: string }>;
  /** Resolves with a 200/206 response whose body the caller must consume or cancel. */
  getObject(physicalKey: string, range?: ByteRange): Promise<Response>;
  /** Succeeds when the object is gone, including when it never existed. */
  deleteObject(physicalKey: string): Promise<void>;
  /**
   * Deletes up to DELETE_OBJECTS_MAX keys in one DeleteObjects call; answers the keys it could not delete, with why
   * (a key that was not there counts as deleted), or `unsupported` when the backend has no DeleteObjects (the
   * caller then deletes one by one).
   */
  deleteObjects(physicalKeys: readonly string[]): Promise<BatchDeleteAnswer>;
  /** Server-side copy within this backend's bucket (objects up to 5 GiB); no bytes pass through the Worker. */
  copyObject(sourcePhysicalKey: string, targetPhysicalKey: string): Promise<void>;
  /** The backend's own multipart upload: parts stream straight to it and it assembles the object. */
  createMultipartUpload(physicalKey: string): Promise<string>;
  uploadPart(physicalKey: string, uploadId: string, partNumber: number, body: ReadableStream<Uint8Array>, length: number): Promise<{ etag: string }>;
  completeMultipartUpload(physicalKey: string, uploadId: string, parts: { partNumber: number; etag: string }[]): Promise<void>;
  /** One page of the parts the backend holds for the upload, numbered above `after`: what its complete would use. */
  listParts(physicalKey: string, uploadId: string, after: number, max: number): Promise<BackendPartPage>;
  /** Succeeds when the upload is gone, including when it never existed. */
  abortMultipartUpload(physicalKey: string, uploadId: string): Promise<void>;
  /** One page (up to `max`) of the objects in the backend's bucket under `prefix`, in key order after `after`. */
  listObjects(prefix: string, after: string | undefined, max: number): Promise<BackendObjectPage>;
}

/** S3's limit on the keys of one DeleteObjects call. */
export const DELETE_OBJECTS_MAX = 1000;

/**
 * Whether a key can travel in DeleteObjects' XML body exactly: XML 1.0 has no control characters (and its parsers
 * turn a carriage return into a line feed), so such keys are deleted one by one, by their URL.
 */
export function fitsDeleteObjects(physicalKey: string): boolean {
  return !/[\u0000-\u001f\u007f-\u009f\ud800-\udfff\ufffe\uffff]/.test(physicalKey);
}

export type BatchDeleteAnswer = { kind: 'unsupported' } | { kind: 'answered'; failed: Map<string, string> };

export interface BackendObjectPage {
  /** `etag` as the backend gives it, quoted. */
  objects: { key: string; size: number; etag: string; lastModified: number }[];
  truncated: boolean;
}

export interface BackendPartPage {
  parts: { partNumber: number; etag: string }[];
  truncated: boolean;
}

/**
 * `timeoutMs` bounds the wait for the answer's headers on calls that send no streamed body (GET, DELETE,
 * CreateMultipartUpload, AbortMultipartUpload): a backend that accepts the connection and never answers is a
 * failure (status 0, counted by its breaker; reads go on to the next copy), not a hang. Streaming PUTs and parts
 * last as long as the client sends, and server-side Copy and Complete as long as the backend works, as in S3.
 */
export function createBackendClient(config: BackendConfig, timeoutMs: number): BackendClient {
  const aws = new AwsClient({
    accessKeyId: config.accessKeyId,
    secretAccessKey: config.secretAccessKey,
    service: 's3',
    region: config.region,
    retries: 0,
  });

  async function send(
    method: string,
    physicalKey: string,
    init: { headers?: Record<string, string>; body?: ReadableStream<Uint8Array> | string; query?: string; timed?: boolean },
  ): Promise<Response> {
    const headers = { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', ...init.headers };
    // Built outside the try: a key the layout refuses is our fault, not the backend's, and must not trip its breaker.
    const url = backendObjectUrl(config, physicalKey, init.query);
    let signed: Request;
    try {
      signed = await aws.sign(url, { method, headers, body: init.body ?? null });
    } catch (err) {
      throw new BackendError(config.name, 0, `could not sign request: ${describeError(err)}`);
    }
    // Only the wait for headers is bounded: once they arrive the timer stops, so a long body can stream on.
    const deadline = init.timed ? new AbortController() : undefined;
    const timer = deadline ? setTimeout(() => deadline.abort(), timeoutMs) : undefined;
    try {
      return await fetch(signed, deadline ? { signal: deadline.signal } : {});
    } catch (err) {
      if (deadline?.signal.aborted) throw new BackendError(config.name, 0, `${method} got no answer within ${timeoutMs / 1000}s`);
      throw new BackendError(config.name, 0, `${method} failed: ${describeError(err)}`);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  async function failure(method: string, response: Response): Promise<BackendError> {
    return backendError(method, response, await response.text().catch(() => ''));
  }

  /** A failed call with its S3 error code; a 200 carrying an error document still counts as a failure (500). */
  function backendError(method: string, response: Response, body: string): BackendError {
    const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? '';
    return new BackendError(config.name, response.ok ? 500 : response.status, `${method} answered ${response.status} ${code}`.trim());
  }

  return {
    name: config.name,
    async putObject(physicalKey, body, length) {
      const response = await send('PUT', physicalKey, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
        body,
      });
      if (!response.ok) throw await failure('PUT', response);
      await response.body?.cancel();
      return { etag: response.headers.get('etag') ?? '' };
    },
    async getObject(physicalKey, range) {
      const headers: Record<string, string> = range ? { range: `bytes=${range.start}-${range.end}` } : {};
      const response = await send('GET', physicalKey, { headers, timed: true });
      if (response.status !== 200 && response.status !== 206) throw await failure('GET', response);
      return response;
    },
    async deleteObject(physicalKey) {
      const response = await send('DELETE', physicalKey, { timed: true });
      await response.body?.cancel();
      if (!response.ok && response.status !== 404) throw await failure('DELETE', response);
    },
    async deleteObjects(physicalKeys) {
      if (physicalKeys.length > DELETE_OBJECTS_MAX) throw new Error(`at most ${DELETE_OBJECTS_MAX} keys per DeleteObjects call`);
      if (!physicalKeys.every(fitsDeleteObjects)) throw new Error('a key that XML cannot carry exactly goes by DeleteObject');
      // Quiet: the answer lists only the keys that could not be deleted.
      const xml = `<Delete><Quiet>true</Quiet>${physicalKeys.map((k) => `<Object><Key>${escapeXmlText(k)}</Key></Object>`).join('')}</Delete>`;
      const body = new TextEncoder().encode(xml);
      const response = await send('POST', '', {
        query: 'delete',
        headers: {
          'content-type': 'application/xml',
          // S3 requires an integrity header on DeleteObjects; the signed payload hash covers the body too.
          'content-md5': toBase64(new Uint8Array(await crypto.subtle.digest('MD5', body))),
          'x-amz-content-sha256': await sha256Hex(xml),
        },
        body: xml,
        timed: true,
      });
      const text = await response.text().catch(() => '');
      if (response.status === 501 || /<Code>(NotImplemented|MethodNotAllowed)<\/Code>/.test(text)) return { kind: 'unsupported' };
      if (!response.ok || !text.includes('DeleteResult')) throw backendError('DeleteObjects', response, text);
      const failed = new Map<string, string>();
      for (const m of text.matchAll(/<Error>([\s\S]*?)<\/Error>/g)) {
        const key = decodeXmlText(/<Key>([^<]*)<\/Key>/.exec(m[1] ?? '')?.[1] ?? '');
        const code = /<Code>([^<]*)<\/Code>/.exec(m[1] ?? '')?.[1] ?? '';
        if (code !== 'NoSuchKey') failed.set(key, `DeleteObjects: ${code || 'error'} ${decodeXmlText(/<Message>([^<]*)<\/Message>/.exec(m[1] ?? '')?.[1] ?? '')}`.trim());
      }
      return { kind: 'answered', failed };
    },
    async copyObject(sourcePhysicalKey, targetPhysicalKey) {
      const response = await send('PUT', targetPhysicalKey, {
        headers: {
          'x-amz-copy-source': backendCopySource(config, sourcePhysicalKey),
          'x-amz-metadata-directive': 'COPY',
        },
      });
      // S3 may answer 200 and still report a failure in the body, when the copy fails after it started.
      const text = await response.text().catch(() => '');
      if (!response.ok || !text.includes('<CopyObjectResult')) throw backendError('COPY', response, text);
    },
    async createMultipartUpload(physicalKey) {
      const response = await send('POST', physicalKey, { query: 'uploads=', headers: { 'content-type': 'application/octet-stream' }, timed: true });
      if (!response.ok) throw await failure('CreateMultipartUpload', response);
      const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(await response.text())?.[1];
      if (!uploadId) throw new BackendError(config.name, 500, 'CreateMultipartUpload answered without an UploadId');
      return decodeXmlText(uploadId);
    },
    async uploadPart(physicalKey, uploadId, partNumber, body, length) {
      const response = await send('PUT', physicalKey, {
        query: `partNumber=${partNumber}&uploadId=${encodeURIComponent(uploadId)}`,
        headers: { 'content-length': String(length) },
        body,
      });
      if (!response.ok) throw await failure('UploadPart', response);
      await response.body?.cancel();
      return { etag: response.headers.get('etag') ?? '' };
    },
    async completeMultipartUpload(physicalKey, uploadId, parts) {
      const xml =
        '<CompleteMultipartUpload>' +
        parts.map((p) => `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXmlText(p.etag)}</ETag></Part>`).join('') +
        '</CompleteMultipartUpload>';
      const response = await send('POST', physicalKey, {
        query: `uploadId=${encodeURIComponent(uploadId)}`,
        headers: { 'content-type': 'application/xml', 'x-amz-content-sha256': await sha256Hex(xml) },
        body: xml,
      });
      // Like CopyObject, a 200 can carry an error document when assembly fails late.
      const text = await response.text().catch(() => '');
      if (!response.ok || !text.includes('CompleteMultipartUploadResult')) throw backendError('CompleteMultipartUpload', response, text);
    },
    async listParts(physicalKey, uploadId, after, max) {
      const response = await send('GET', physicalKey, {
        query: `max-parts=${max}&part-number-marker=${after}&uploadId=${encodeURIComponent(uploadId)}`,
        timed: true,
      });
      if (!response.ok) throw await failure('ListParts', response);
      const text = await response.text();
      const parts = [...text.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((m) => ({
        partNumber: Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(m[1] ?? '')?.[1]),
        etag: decodeXmlText(/<ETag>([^<]*)<\/ETag>/.exec(m[1] ?? '')?.[1] ?? ''),
      }));
      if (parts.some((p) => !Number.isInteger(p.partNumber))) throw new BackendError(config.name, 500, 'ListParts answered a part without a number');
      return { parts, truncated: /<IsTruncated>true<\/IsTruncated>/.test(text) };
    },
    async listObjects(prefix, after, max) {
      // ListObjectsV2 with start-after (not a continuation token), so a walk can resume from the last key it saw.
      const query = [`list-type=2`, `max-keys=${max}`, `prefix=${uriEncode(prefix, true)}`, ...(after ? [`start-after=${uriEncode(after, true)}`] : [])].sort().join('&');
      const response = await send('GET', '', { query, timed: true });
      if (!response.ok) throw await failure('ListObjectsV2', response);
      const text = await response.text();
      const objects = [...text.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)].map((m) => ({
        key: decodeXmlText(/<Key>([^<]*)<\/Key>/.exec(m[1] ?? '')?.[1] ?? ''),
        size: Number(/<Size>(\d+)<\/Size>/.exec(m[1] ?? '')?.[1] ?? 'NaN'),
        etag: decodeXmlText(/<ETag>([^<]*)<\/ETag>/.exec(m[1] ?? '')?.[1] ?? ''),
        lastModified: Date.parse(/<LastModified>([^<]*)<\/LastModified>/.exec(m[1] ?? '')?.[1] ?? ''),
      }));
      if (objects.some((o) => !o.key || !Number.isSafeInteger(o.size) || Number.isNaN(o.lastModified))) throw new BackendError(config.name, 500, 'ListObjectsV2 answered an entry without a key, size or date');
      return { objects, truncated: /<IsTruncated>true<\/IsTruncated>/.test(text) };
    },
    async abortMultipartUpload(physicalKey, uploadId) {
      const response = await send('DELETE', physicalKey, { query: `uploadId=${encodeURIComponent(uploadId)}`, timed: true });
      await response.body?.cancel();
      if (!response.ok && response.status !== 404) throw await failure('AbortMultipartUpload', response);
    },
  };
}

export function describeError(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function decodeXmlText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}
