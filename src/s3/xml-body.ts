/**
 * The small XML request bodies (DeleteObjects, CompleteMultipartUpload): read with a size cap and held to every
 * promise the request makes about them, exactly as an upload is: the signed payload hash (x-amz-content-sha256,
 * or aws-chunked chunk signatures), Content-Length, Content-MD5 and x-amz-checksum-* (header or trailer). A body
 * other than the one the client signed is refused before anything is parsed, so a captured request cannot be
 * replayed with another body. Every problem is an S3 error; nothing is read past the cap.
 */
import type { ChunkEncoder } from '../crypto/storage-transform.ts';
import { pumpUpload } from '../objects/upload-pump.ts';
import type { Authenticated } from './authenticate.ts';
import { S3Error } from './errors.ts';
import type { S3Request } from './request.ts';
import { uploadBody } from './upload-body.ts';
import { type XmlElement, parseXml } from '../util/xml-read.ts';

/** S3 reads at most 1 MiB of these documents. */
export const MAX_XML_BODY_BYTES = 1024 * 1024;

/** The document's bytes are the client's own; nothing is transformed on the way into memory. */
const asSent: ChunkEncoder = { update: async (chunk) => [chunk], final: async () => [] };

export async function readXmlBody(
  request: S3Request,
  auth: Authenticated,
  opts: { rootName: string; requireIntegrity: boolean; checksumHeadersNameObject?: boolean },
): Promise<XmlElement> {
  const body = uploadBody(request, auth, { checksumHeadersNameObject: opts.checksumHeadersNameObject });
  if (opts.requireIntegrity && body.expect.md5Base64 === undefined && body.expect.checksum === undefined) {
    throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 (or an x-amz-checksum-* header)');
  }
  if (body.size > MAX_XML_BODY_BYTES) throw malformed();
  const parts: Uint8Array[] = [];
  // The pump reuses its buffers once a write settles, so each chunk is copied as it arrives.
  const sink = new WritableStream<Uint8Array>({ write: (chunk) => void parts.push(chunk.slice()) });
  await pumpUpload(body.source, sink, { expect: { ...body.expect, length: body.size }, encoder: asSent });
  let document: XmlElement;
  try {
    document = parseXml(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(concat(parts)));
  } catch {
    throw malformed();
  }
  if (document.name !== opts.rootName) throw malformed();
  return document;
}

export function malformed(): S3Error {
  return new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
