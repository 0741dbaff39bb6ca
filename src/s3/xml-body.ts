/**
 * The small XML request bodies (DeleteObjects, CompleteMultipartUpload): read with a size cap, integrity-checked
 * (Content-MD5 or x-amz-checksum-*), parsed. Every problem is an S3 error; nothing is read past the cap.
 */
import { CHECKSUM_ALGORITHMS, createChecksum } from './checksums.ts';
import { S3Error } from './errors.ts';
import type { S3Request } from './request.ts';
import { type XmlElement, parseXml } from './xml-read.ts';

/** S3 reads at most 1 MiB of these documents. */
export const MAX_XML_BODY_BYTES = 1024 * 1024;

export async function readXmlBody(request: S3Request, opts: { rootName: string; requireIntegrity: boolean }): Promise<XmlElement> {
  const bytes = await readCapped(request.body, MAX_XML_BODY_BYTES);
  await checkIntegrity(request.headers, bytes, opts.requireIntegrity);
  let document: XmlElement;
  try {
    document = parseXml(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes));
  } catch {
    throw malformed();
  }
  if (document.name !== opts.rootName) throw malformed();
  return document;
}

export function malformed(): S3Error {
  return new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
}

async function readCapped(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array> {
  if (!body) throw malformed();
  const reader = body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw malformed();
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

async function checkIntegrity(headers: Headers, bytes: Uint8Array, required: boolean): Promise<void> {
  const md5 = headers.get('content-md5');
  const algorithm = CHECKSUM_ALGORITHMS.find((a) => headers.has(`x-amz-checksum-${a}`));
  if (md5 === null && algorithm === undefined) {
    if (required) throw new S3Error('InvalidRequest', 'Missing required header for this request: Content-MD5 (or an x-amz-checksum-* header)');
    return;
  }
  if (md5 !== null) {
    const digest = new Uint8Array(await crypto.subtle.digest('MD5', bytes));
    let binary = '';
    for (const b of digest) binary += String.fromCharCode(b);
    if (btoa(binary) !== md5) throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  if (algorithm !== undefined) {
    const sum = createChecksum(algorithm);
    await sum.update(bytes);
    if ((await sum.digest()) !== headers.get(`x-amz-checksum-${algorithm}`)) {
      throw new S3Error('BadDigest', `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`);
    }
  }
}
