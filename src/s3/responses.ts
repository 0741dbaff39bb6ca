/** Building S3 responses: XML documents, the error document, object headers. */
import type { StoredObject } from '../store/objects.ts';
import type { ChecksumType, StoredChecksum } from '../store/schema.ts';
import type { S3Error } from './errors.ts';
import { type XmlNode, escapeXml, xmlDocument } from '../util/xml.ts';

const XML_HEADERS = { 'content-type': 'application/xml' };

export function xmlResponse(root: string, body: XmlNode, init: { status?: number; headers?: HeadersInit } = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('content-type', XML_HEADERS['content-type']);
  return new Response(xmlDocument(root, body), { status: init.status ?? 200, headers });
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#RESTErrorResponses */
export function errorResponse(err: S3Error, requestId: string, resource: string, method: string): Response {
  const headers = new Headers({ ...err.headers, ...XML_HEADERS });
  // HEAD responses cannot carry a body; clients read the status.
  if (method === 'HEAD') return new Response(null, { status: err.status, headers });
  let details = '';
  for (const [name, value] of Object.entries(err.details)) details += `<${name}>${escapeXml(value)}</${name}>`;
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${err.code}</Code><Message>${escapeXml(err.message)}</Message>` +
    `${details}<Resource>${escapeXml(resource)}</Resource><RequestId>${requestId}</RequestId></Error>`;
  return new Response(body, { status: err.status, headers });
}

/** The headers GET and HEAD share: everything the client stored plus what S3 derives. */
export function objectHeaders(object: StoredObject, opts: { checksum?: boolean } = {}): Headers {
  const headers = new Headers({
    'content-type': object.contentType,
    etag: object.etag,
    'last-modified': object.createdAt.toUTCString(),
    'accept-ranges': 'bytes',
  });
  for (const [name, value] of Object.entries(object.headers)) headers.set(name, value);
  for (const [name, value] of Object.entries(object.metadata)) headers.set(`x-amz-meta-${name}`, value);
  if (opts.checksum && object.checksum) {
    headers.set(`x-amz-checksum-${object.checksum.algorithm}`, object.checksum.value);
    headers.set('x-amz-checksum-type', checksumType(object.checksum));
  }
  return headers;
}

/** A checksum as S3's XML carries it: `crc32` -> `<ChecksumCRC32>`, `sha256` -> `<ChecksumSHA256>`, ... */
export function checksumElements(checksum: { algorithm: string; value: string }): Record<string, string> {
  return { [`Checksum${checksum.algorithm.toUpperCase()}`]: checksum.value };
}

/** An object's checksum in XML: its value and its `ChecksumType`. */
export function objectChecksumElements(checksum: StoredChecksum): Record<string, string> {
  return { ...checksumElements(checksum), ChecksumType: checksumType(checksum) };
}

/** Checksums stored before types were recorded are whole-object ones. */
function checksumType(checksum: StoredChecksum): ChecksumType {
  return checksum.type ?? 'FULL_OBJECT';
}

/** S3 timestamps in XML: ISO 8601 with milliseconds. */
export function isoTime(date: Date): string {
  return date.toISOString();
}
