/**
 * How an upload's body arrives and what it promises: plain or aws-chunked, its decoded length, the payload hash
 * to verify, and an additional checksum (x-amz-checksum-* as a header or as a trailer).
 * https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html
 */
import { fromBase64 } from '../crypto/encoding.ts';
import type { DigestExpectations } from '../objects/upload-pump.ts';
import { type ChunkSource, lazySource, plainSource } from '../util/chunk-source.ts';
import type { Authenticated } from './authenticate.ts';
import { STREAMING_MODES, awsChunkedSource } from './aws-chunked.ts';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, isChecksumAlgorithm } from '../crypto/checksums.ts';
import { S3Error } from './errors.ts';
import type { S3Request } from './request.ts';
import { UNSIGNED_PAYLOAD } from './sigv4.ts';

export interface UploadBody {
  source: ChunkSource;
  /** Client bytes (the decoded length for aws-chunked). */
  size: number;
  expect: Omit<DigestExpectations, 'length'>;
}

/** Expected base64 length of each checksum, to refuse malformed values up front. */
const CHECKSUM_BYTES: Record<ChecksumAlgorithm, number> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32 };

/**
 * `checksumHeadersNameObject`: the request's x-amz-checksum-* headers are not its body's but the object's it
 * completes (CompleteMultipartUpload), so they are left to the operation.
 */
export function uploadBody(request: S3Request, auth: Authenticated, opts: { checksumHeadersNameObject?: boolean } = {}): UploadBody {
  const headers = request.headers;
  const body = request.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  const payloadHash = auth.payloadHash;
  const mode = STREAMING_MODES[payloadHash];
  const chunked = mode !== undefined || contentEncodings(headers).includes('aws-chunked');
  const checksum = checksumExpectation(headers, mode !== undefined && mode !== 'signed', opts.checksumHeadersNameObject === true);
  const md5Base64 = contentMd5(headers);
  if (!chunked) {
    return { source: lazySource(() => plainSource(body)), size: contentLength(headers, 'content-length'), expect: { sha256: payloadSha256(payloadHash), md5Base64, checksum } };
  }
  if (!mode) {
    throw new S3Error('NotImplemented', `x-amz-content-sha256 ${payloadHash} is not a supported aws-chunked signing mode`);
  }
  return {
    source: lazySource(() => awsChunkedSource(body, mode, auth.signing)),
    size: contentLength(headers, 'x-amz-decoded-content-length'),
    expect: { md5Base64, checksum },
  };
}

/** The content-encoding to store: the client's, without the transfer framing. */
export function storedContentEncoding(headers: Headers): string | undefined {
  const kept = contentEncodings(headers).filter((e) => e !== 'aws-chunked');
  return kept.length > 0 ? kept.join(', ') : undefined;
}

function contentEncodings(headers: Headers): string[] {
  return (headers.get('content-encoding') ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter(Boolean);
}

function contentLength(headers: Headers, name: string): number {
  const value = headers.get(name);
  if (value === null && name === 'content-length' && headers.has('transfer-encoding')) {
    // S3 does not take a body of unannounced length (an SDK streams one as aws-chunked with a decoded length).
    throw new S3Error('NotImplemented', 'A header you provided implies functionality that is not implemented', { details: { Header: 'Transfer-Encoding' } });
  }
  if (value === null) throw new S3Error('MissingContentLength', `You must provide the ${name} HTTP header.`);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer`, { details: { ArgumentName: name, ArgumentValue: value } });
  }
  return Number(value);
}

function payloadSha256(payloadHash: string): string | undefined {
  if (payloadHash === UNSIGNED_PAYLOAD) return undefined;
  if (/^[0-9a-fA-F]{64}$/.test(payloadHash)) return payloadHash;
  throw new S3Error('InvalidArgument', 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, a SHA-256 hex digest or a STREAMING-* mode', {
    details: { ArgumentName: 'x-amz-content-sha256', ArgumentValue: payloadHash },
  });
}

function contentMd5(headers: Headers): string | undefined {
  const value = headers.get('content-md5');
  if (value === null) return undefined;
  if (decodedLength(value) !== 16) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
  return value;
}

/** At most one additional checksum, from a header or (for trailer modes) named by x-amz-trailer. */
function checksumExpectation(headers: Headers, trailerMode: boolean, headersNameObject: boolean): UploadBody['expect']['checksum'] {
  const present = headersNameObject ? [] : checksumHeaderAlgorithms(headers);
  const trailer = headers.get('x-amz-trailer')?.trim().toLowerCase();
  if (trailer !== undefined && !trailerMode) {
    throw new S3Error('InvalidRequest', 'x-amz-trailer is only valid with a STREAMING-*-TRAILER x-amz-content-sha256');
  }
  const fromTrailer = trailer?.startsWith('x-amz-checksum-') ? trailer.slice('x-amz-checksum-'.length) : undefined;
  if (trailer !== undefined && (fromTrailer === undefined || !isChecksumAlgorithm(fromTrailer))) {
    throw new S3Error('InvalidRequest', `The trailer ${trailer} is not a supported checksum (x-amz-checksum-{${CHECKSUM_ALGORITHMS.join(',')}})`);
  }
  if (present.length + (fromTrailer ? 1 : 0) > 1) {
    throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum types are not allowed.');
  }
  const algorithm = fromTrailer && isChecksumAlgorithm(fromTrailer) ? fromTrailer : present[0];
  // S3 fails a checksum that names another algorithm than the SDK says it used with BadDigest (PutObject's
  // ChecksumAlgorithm documentation).
  const sdkAlgorithm = headersNameObject ? undefined : headers.get('x-amz-sdk-checksum-algorithm')?.trim().toLowerCase();
  if (algorithm && sdkAlgorithm && sdkAlgorithm !== algorithm) {
    throw new S3Error('BadDigest', `The x-amz-checksum-${algorithm} sent does not match x-amz-sdk-checksum-algorithm ${sdkAlgorithm.toUpperCase()}.`);
  }
  if (!algorithm) return undefined;
  if (algorithm === fromTrailer) return { algorithm, value: undefined };
  const value = headers.get(`x-amz-checksum-${algorithm}`) ?? '';
  // Not base64 at all is a malformed header; base64 of the wrong length cannot match the body, as S3 answers it.
  const length = decodedLength(value);
  if (length === undefined) throw new S3Error('InvalidRequest', `Value for x-amz-checksum-${algorithm} header is invalid.`);
  if (length !== CHECKSUM_BYTES[algorithm]) {
    throw new S3Error('BadDigest', `The ${algorithm.toUpperCase()} you specified did not match the calculated checksum.`);
  }
  return { algorithm, value };
}

/** The algorithms of the x-amz-checksum-* headers a request carries. */
export function checksumHeaderAlgorithms(headers: Headers): ChecksumAlgorithm[] {
  return CHECKSUM_ALGORITHMS.filter((a) => headers.has(`x-amz-checksum-${a}`));
}

function decodedLength(b64: string): number | undefined {
  return fromBase64(b64)?.length;
}
