/** The multipart upload operations. https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html */
import { checkBucketAccess } from '../bucket-access.ts';
import { evaluateReadConditions, writeCondition } from '../../objects/conditions.ts';
import {
  type CompletedPart,
  type CompletionChecksum,
  type CompletionResult,
  MAX_PARTS,
  type UploadChecksum,
  abortUpload,
  completeUpload,
  completedUpload,
  createUpload,
  findUploadOf,
  requireUpload,
  uploadChecksum,
  uploadPart,
} from '../../objects/multipart.ts';
import { conditionTarget, lookupObject, openStoredObject } from '../../objects/read-object.ts';
import { plainSource } from '../../util/chunk-source.ts';
import { listParts, listUploads } from '../../store/multipart.ts';
import type { Handler } from '../dispatch-types.ts';
import { S3Error } from '../errors.ts';
import type { S3Request } from '../request.ts';
import { integerParam, partNumberParam, requireKey } from '../request-fields.ts';
import { checksumElements, isoTime, objectChecksumElements, xmlResponse } from '../responses.ts';
import { CHECKSUM_ALGORITHMS, type ChecksumAlgorithm, isChecksumAlgorithm } from '../../crypto/checksums.ts';
import { isCrcAlgorithm } from '../../crypto/checksum-combine.ts';
import type { ChecksumType } from '../../store/schema.ts';
import { checksumHeaderAlgorithms, uploadBody } from '../upload-body.ts';
import { malformed, readXmlBody } from '../xml-body.ts';
import { type XmlElement, child, childrenNamed } from '../../util/xml-read.ts';
import { OWNER } from './buckets.ts';
import { copySourceConditions, parseCopySource } from './copy.ts';
import { storedHeaders, userMetadata } from './objects-write.ts';


/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html */
export const CreateMultipartUpload: Handler = async (services, request, auth) => {
  const key = requireKey(request);
  const checksum = requestedUploadChecksum(request.headers);
  const uploadId = await createUpload(
    services,
    {
      bucket: auth.bucket,
      key,
      contentType: request.headers.get('content-type') || 'application/octet-stream',
      metadata: userMetadata(request.headers),
      headers: storedHeaders(request.headers),
    },
    checksum,
  );
  const headers = checksum ? { 'x-amz-checksum-algorithm': checksum.algorithm.toUpperCase(), 'x-amz-checksum-type': checksum.type } : undefined;
  request.audit.upload_id = uploadId;
  return xmlResponse('InitiateMultipartUploadResult', { Bucket: auth.bucket, Key: key, UploadId: uploadId }, { headers });
};

/**
 * x-amz-checksum-algorithm and x-amz-checksum-type: the CRCs can be combined into a whole-object checksum
 * (FULL_OBJECT; the default and only type for CRC64NVME), every algorithm but CRC64NVME into a checksum of the
 * parts' checksums (COMPOSITE; the default for the others).
 */
function requestedUploadChecksum(headers: Headers): UploadChecksum | undefined {
  const named = headers.get('x-amz-checksum-algorithm')?.trim().toLowerCase();
  const type = checksumTypeHeader(headers);
  if (named === undefined) {
    if (type !== undefined) throw new S3Error('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    return undefined;
  }
  if (!isChecksumAlgorithm(named)) {
    throw new S3Error('InvalidRequest', `Checksum algorithm provided is unsupported. Please try again with any of the valid types: [${CHECKSUM_ALGORITHMS.map((a) => a.toUpperCase()).join(', ')}]`);
  }
  const chosen = type ?? (named === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE');
  if ((chosen === 'FULL_OBJECT' && !isCrcAlgorithm(named)) || (chosen === 'COMPOSITE' && named === 'crc64nvme')) {
    throw new S3Error('InvalidRequest', `The ${chosen} checksum type cannot be used with the ${named} checksum algorithm.`);
  }
  return { algorithm: named, type: chosen };
}

/** x-amz-checksum-type, on CreateMultipartUpload and CompleteMultipartUpload alike. */
function checksumTypeHeader(headers: Headers): ChecksumType | undefined {
  const type = headers.get('x-amz-checksum-type')?.trim().toUpperCase();
  if (type !== undefined && type !== 'COMPOSITE' && type !== 'FULL_OBJECT') throw new S3Error('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
  return type;
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html */
export const UploadPart: Handler = async (services, request, auth) => {
  const key = requireKey(request);
  const partNumber = partNumberParam(request);
  const upload = await requireUpload(services, request.query.get('uploadId') ?? '', auth.bucket, key);
  const body = uploadBody(request, auth);
  const result = await uploadPart(services, upload, { partNumber, source: body.source, size: body.size, expect: body.expect });
  const headers = new Headers({ etag: result.etag });
  if (result.checksum) headers.set(`x-amz-checksum-${result.checksum.algorithm}`, result.checksum.value);
  return new Response(null, { status: 200, headers });
};

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html - done here as a ranged read of the
 * source and an ordinary part upload, so it works between backends and on backends whose own copy is fragile.
 */
export const UploadPartCopy: Handler = async (services, request, auth) => {
  const key = requireKey(request);
  const partNumber = partNumberParam(request);
  const upload = await requireUpload(services, request.query.get('uploadId') ?? '', auth.bucket, key);
  const sourceRef = parseCopySource(request.headers.get('x-amz-copy-source') ?? '');
  checkBucketAccess(services.config, auth.bucket, sourceRef.bucket);
  const source = await lookupObject(services, auth.bucket, sourceRef.key);
  if (evaluateReadConditions(copySourceConditions(request.headers), conditionTarget(source)) === 'not-modified') {
    throw new S3Error('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
  }
  const range = copySourceRange(request.headers.get('x-amz-copy-source-range'), source.size);
  const size = range ? range.end - range.start + 1 : source.size;
  const body = await openStoredObject(services, source, range);
  const result = await uploadPart(services, upload, { partNumber, source: plainSource(body), size, expect: {} }).catch(async (err: unknown) => {
    await body.cancel().catch(() => {});
    throw err;
  });
  return xmlResponse('CopyPartResult', { LastModified: isoTime(new Date(services.now())), ETag: result.etag, ...(result.checksum && checksumElements(result.checksum)) });
};

/**
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html - a completion retried after it
 * succeeded (its response lost) answers 200 with the same result, as S3 does.
 */
export const CompleteMultipartUpload: Handler = async (services, request, auth) => {
  const key = requireKey(request);
  const uploadId = request.query.get('uploadId') ?? '';
  const upload = await findUploadOf(services, uploadId, auth.bucket, key);
  if (!upload) return completionResponse(request, auth.bucket, key, await completedUpload(services, uploadId, auth.bucket, key));
  const condition = writeCondition(request.headers);
  const document = await readXmlBody(request, auth, { rootName: 'CompleteMultipartUpload', requireIntegrity: false, checksumHeadersNameObject: true });
  const parts = childrenNamed(document, 'Part').map((part): CompletedPart => {
    const number = child(part, 'PartNumber')?.text.trim() ?? '';
    const etag = child(part, 'ETag')?.text.trim();
    if (!/^\d{1,5}$/.test(number) || !etag) throw malformed();
    return { partNumber: Number(number), etag, checksum: listedChecksum(part) };
  });
  return completionResponse(request, auth.bucket, key, await completeUpload(services, upload, parts, condition, completionChecksum(request.headers)));
};

/** A part's ChecksumCRC32 (or another algorithm's) element in a complete request; at most one. */
function listedChecksum(part: XmlElement): CompletedPart['checksum'] {
  const listed = CHECKSUM_ALGORITHMS.flatMap((algorithm) => {
    const value = child(part, `Checksum${algorithm.toUpperCase()}`)?.text.trim();
    return value ? [{ algorithm, value }] : [];
  });
  if (listed.length > 1) throw malformed();
  return listed[0];
}

function completionChecksum(headers: Headers): CompletionChecksum {
  const sent = checksumHeaderAlgorithms(headers);
  if (sent.length > 1) throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum types are not allowed.');
  const algorithm: ChecksumAlgorithm | undefined = sent[0];
  return { type: checksumTypeHeader(headers), expected: algorithm && { algorithm, value: headers.get(`x-amz-checksum-${algorithm}`) ?? '' } };
}

function completionResponse(request: S3Request, bucket: string, key: string, result: CompletionResult): Response {
  request.audit.etag = result.etag;
  const location = `${new URL(request.raw.url).origin}/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
  const checksum = result.checksum ? objectChecksumElements(result.checksum) : {};
  return xmlResponse('CompleteMultipartUploadResult', { Location: location, Bucket: bucket, Key: key, ETag: result.etag, ...checksum });
}

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html */
export const AbortMultipartUpload: Handler = async (services, request, auth) => {
  const upload = await requireUpload(services, request.query.get('uploadId') ?? '', auth.bucket, requireKey(request));
  await abortUpload(services, upload);
  return new Response(null, { status: 204 });
};

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListParts.html */
export const ListParts: Handler = async (services, request, auth) => {
  const key = requireKey(request);
  const upload = await requireUpload(services, request.query.get('uploadId') ?? '', auth.bucket, key);
  const maxParts = integerParam(request, 'max-parts', { min: 0, max: 1000, fallback: 1000 });
  const marker = integerParam(request, 'part-number-marker', { min: 0, max: MAX_PARTS, fallback: 0 });
  const rows = maxParts === 0 ? [] : await listParts(services.db(), upload.uploadId, marker, maxParts + 1);
  const page = rows.slice(0, maxParts);
  const checksum = uploadChecksum(upload);
  return xmlResponse('ListPartsResult', {
    Bucket: auth.bucket,
    Key: key,
    UploadId: upload.uploadId,
    ChecksumAlgorithm: checksum?.algorithm.toUpperCase(),
    ChecksumType: checksum?.type,
    Initiator: OWNER,
    Owner: OWNER,
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    NextPartNumberMarker: page.at(-1)?.partNumber ?? marker,
    MaxParts: maxParts,
    IsTruncated: rows.length > maxParts,
    Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: isoTime(p.createdAt), ETag: p.etag, Size: p.size, ...(p.checksum && checksumElements(p.checksum)) })),
  });
};

/** https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html */
export const ListMultipartUploads: Handler = async (services, request, auth) => {
  const maxUploads = integerParam(request, 'max-uploads', { min: 0, max: 1000, fallback: 1000 });
  const keyMarker = request.query.get('key-marker') ?? '';
  const uploadIdMarker = keyMarker ? (request.query.get('upload-id-marker') ?? '') : '';
  const prefix = request.query.get('prefix') ?? '';
  const rows =
    maxUploads === 0
      ? []
      : await listUploads(services.db(), { bucket: auth.bucket, prefix, keyMarker, uploadIdMarker, limit: maxUploads + 1 });
  const page = rows.slice(0, maxUploads);
  const truncated = rows.length > maxUploads;
  return xmlResponse('ListMultipartUploadsResult', {
    Bucket: auth.bucket,
    KeyMarker: keyMarker,
    UploadIdMarker: uploadIdMarker,
    NextKeyMarker: truncated ? page.at(-1)?.key : undefined,
    NextUploadIdMarker: truncated ? page.at(-1)?.uploadId : undefined,
    Prefix: prefix,
    MaxUploads: maxUploads,
    IsTruncated: truncated,
    Upload: page.map((u) => ({ Key: u.key, UploadId: u.uploadId, Initiator: OWNER, Owner: OWNER, StorageClass: 'STANDARD', Initiated: isoTime(u.createdAt) })),
  });
};

/**
 * `bytes=first-last`, both required. A malformed value is InvalidArgument; a well-formed range that does not lie
 * within the source is InvalidRange (416), as S3 answers it.
 */
function copySourceRange(header: string | null, size: number): { start: number; end: number } | undefined {
  if (header === null) return undefined;
  const m = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!m || Number(m[1]) > Number(m[2])) {
    throw new S3Error('InvalidArgument', 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', {
      details: { ArgumentName: 'x-amz-copy-source-range', ArgumentValue: header },
    });
  }
  const range = { start: Number(m[1]), end: Number(m[2]) };
  if (range.end >= size) {
    throw new S3Error('InvalidRange', 'The requested range is not satisfiable', {
      details: { RangeRequested: header, ActualObjectSize: String(size) },
    });
  }
  return range;
}
