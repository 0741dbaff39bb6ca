/**
 * Multipart uploads on the backend's own multipart API: the backend is chosen at create time, parts stream
 * straight to it, and it assembles the object at complete; nothing is re-read through the Worker. Parts' bytes
 * count against the backend's free space while the upload is in flight; completing turns them into the object's
 * bytes_used in the same transaction that records it; aborting frees them.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html
 */
import { randomHex, toHex } from '../crypto/encoding.ts';
import { BackendError, describeError } from '../backends/client.ts';
import { queueUploadAbort } from '../store/cleanup.ts';
import { Refusal } from './refusal.ts';
import type { Services } from '../services/services.ts';
import { type PartRow, type UploadRow, allParts, countActiveUploads, deleteUpload, findUpload, insertUpload, recordPart } from '../store/multipart.ts';
import { backendSpace } from '../store/quotas.ts';
import type { WriteCondition } from './conditions.ts';
import { checkWriteCondition, opaqueEtag } from './conditions.ts';
import { keptPartUploads, settlePartUploads } from './part-uploads.ts';
import { newVersion, physicalKey } from './physical-key.ts';
import { forgetSpace, freeBytes } from './placement.ts';
import { backendFailure, chooseBackend, recordNewCopy, streamToBackend } from './put-object.ts';
import type { CopyTarget } from './copy-object.ts';
import type { BodyDigests, DigestExpectations } from './upload-pump.ts';
import type { ChunkSource } from '../util/chunk-source.ts';
import type { CopyEncryption } from '../crypto/sealed-copy.ts';
import { keyRefusal } from './sealing.ts';
import type { AssembledPart } from '../store/object-parts.ts';
import type { ChecksumType, StoredChecksum } from '../store/schema.ts';
import { type ChecksumAlgorithm, isChecksumAlgorithm } from '../crypto/checksums.ts';
import { combinedCrc, compositeChecksum, isCrcAlgorithm } from '../crypto/checksum-combine.ts';
import { findCompletedUpload, findObject } from '../store/objects.ts';
import { compositeSha256 } from '../crypto/content-digest.ts';

export const MIN_PART_BYTES = 5 * 1024 * 1024;
export const MAX_PART_BYTES = 5 * 1024 ** 3;
export const MAX_PARTS = 10_000;

/** An upload is described like the object it will become, the same way a copy's target is. */
export type NewUpload = CopyTarget;

/** CreateMultipartUpload's checksum: every part carries one of this algorithm, and the object one of this type. */
export interface UploadChecksum {
  algorithm: ChecksumAlgorithm;
  type: ChecksumType;
}

export async function createUpload(services: Services, upload: NewUpload, checksum?: UploadChecksum): Promise<string> {
  const cap = services.config.buckets.find((b) => b.name === upload.bucket)?.maxMultipartUploads ?? 0;
  if (cap > 0 && (await countActiveUploads(services.db(), upload.bucket)) >= cap) {
    throw new Refusal('too-many-uploads', `This bucket already has ${cap} multipart uploads in progress; complete or abort some first.`);
  }
  // By a fresh read, not by figures up to SPACE_CACHE_MS old: parts never move, so an upload placed on a backend
  // that began draining would only be aborted by that drain.
  const backendName = await chooseBackend(services, 0);
  let encryption: CopyEncryption | null;
  try {
    encryption = await services.storage.startUpload();
  } catch (err) {
    throw keyRefusal(services, err, 'encrypt');
  }
  const version = newVersion(services.now());
  const key = await physicalKey(upload.bucket, upload.key, version);
  const backend = services.backend(backendName);
  let backendUploadId: string;
  try {
    backendUploadId = await backend.createMultipartUpload(key);
  } catch (err) {
    throw backendFailure(services, err);
  }
  const uploadId = randomUploadId();
  try {
    await insertUpload(services.db(), {
      uploadId,
      ...upload,
      backendName,
      backendUploadId,
      physicalKey: key,
      version,
      checksumAlgorithm: checksum?.algorithm ?? null,
      checksumType: checksum?.type ?? null,
      encryption,
    });
  } catch (err) {
    await backend.abortMultipartUpload(key, backendUploadId).catch(() => {});
    throw err;
  }
  return uploadId;
}

/** The upload, if it exists and belongs to this bucket and key (an upload id is bound to both). */
export async function requireUpload(services: Services, uploadId: string, bucket: string, key: string): Promise<UploadRow> {
  const upload = await findUploadOf(services, uploadId, bucket, key);
  if (!upload) throw noSuchUpload(uploadId);
  return upload;
}

/** The upload in progress under this id, bucket and key, if there is one. */
export async function findUploadOf(services: Services, uploadId: string, bucket: string, key: string): Promise<UploadRow | undefined> {
  const upload = isUploadId(uploadId) ? await findUpload(services.db(), uploadId) : undefined;
  return upload && upload.bucket === bucket && upload.key === key ? upload : undefined;
}

/**
 * What a repeated CompleteMultipartUpload answers: S3 answers a completion retried after it succeeded with the same
 * result, so the result is kept with the object it created, for as long as that object is the key's current one.
 * Nothing is recorded again.
 */
export async function completedUpload(services: Services, uploadId: string, bucket: string, key: string): Promise<CompletionResult> {
  const done = isUploadId(uploadId) ? await findCompletedUpload(services.db(), bucket, key, uploadId) : undefined;
  if (!done) throw noSuchUpload(uploadId);
  return done;
}

export interface PartInput {
  partNumber: number;
  source: ChunkSource;
  size: number;
  expect: Omit<DigestExpectations, 'length'>;
}

export async function uploadPart(services: Services, upload: UploadRow, part: PartInput): Promise<{ etag: string; checksum: BodyDigests['checksum'] }> {
  if (part.size > MAX_PART_BYTES) {
    throw new Refusal('too-large', 'Your proposed upload exceeds the maximum allowed object size.', {
      details: { ProposedSize: String(part.size), MaxSizeAllowed: String(MAX_PART_BYTES) },
    });
  }
  const expect = partChecksumExpectation(upload, part.expect);
  let sealed: Awaited<ReturnType<Services['storage']['writePart']>>;
  try {
    sealed = await services.storage.writePart(upload, part.partNumber, part.size);
  } catch (err) {
    throw keyRefusal(services, err, 'encrypt', { upload_id: upload.uploadId });
  }
  const { storedSize, encoder, nonce } = sealed;
  // Refuse before the body is read when the pinned backend has no room for the part.
  const [space] = await backendSpace(services.db(), [upload.backendName]);
  if (space && space.mode !== 'active') {
    // Its drain aborts every upload on it; more parts could never complete.
    throw new Refusal('no-such-upload', 'The upload was aborted: the backend holding it is being drained. Start the upload again.');
  }
  if (!space || freeBytes(space) < storedSize) {
    throw new Refusal('no-room', 'The backend holding this upload has no room for the part');
  }
  const backend = services.backend(upload.backendName);
  const { sent, digests } = await streamToBackend(services, part.source, { ...expect, length: part.size }, { storedSize, encoder }, (body) =>
    backend.uploadPart(upload.physicalKey, upload.backendUploadId, part.partNumber, body, storedSize),
  );
  // Parts always hash: a part's ETag is what CompleteMultipartUpload lists, and no backend evidence covers it.
  const etag = `"${digests.md5Hex ?? ''}"`;
  const outcome = await recordPart(services.db(), upload.backendName, {
    uploadId: upload.uploadId,
    partNumber: part.partNumber,
    etag,
    backendEtag: sent.etag,
    size: part.size,
    storedSize,
    checksum: digests.checksum ?? null,
    sha256: digests.sha256Hex,
    nonce,
  });
  // An unrecorded part stays on the backend only until the upload is completed without it or aborted.
  if (!outcome.recorded && outcome.reason === 'no-room') throw new Refusal('no-room', 'The backend holding this upload has no room for the part');
  if (!outcome.recorded) throw noSuchUpload(upload.uploadId);
  // The part holds room now that the commit of a plain write does not check: placement must see it from here on.
  forgetSpace(services);
  if (outcome.overlapping.length > 0) await settlePartUploads(services, upload, part.partNumber, [sent.etag, ...outcome.overlapping]);
  return { etag, checksum: digests.checksum };
}

/**
 * A part of an upload made with a checksum algorithm carries that algorithm's checksum: the client's, verified, or
 * one computed here when the client sent none. A checksum of another algorithm is refused, as S3 refuses it.
 */
function partChecksumExpectation(upload: UploadRow, expect: PartInput['expect']): PartInput['expect'] {
  const algorithm = uploadChecksum(upload)?.algorithm;
  if (!algorithm) return expect;
  if (expect.checksum && expect.checksum.algorithm !== algorithm) {
    throw new Refusal('invalid-request', `Checksum Type mismatch occurred, expected checksum Type: ${algorithm}, actual checksum Type: ${expect.checksum.algorithm}`);
  }
  return { ...expect, compute: algorithm };
}

/** The upload's checksum settings, if it was created with an algorithm. */
export function uploadChecksum(upload: UploadRow): UploadChecksum | undefined {
  const algorithm = upload.checksumAlgorithm ?? '';
  if (!isChecksumAlgorithm(algorithm)) return undefined;
  return { algorithm, type: upload.checksumType ?? 'COMPOSITE' };
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
  /** The part's checksum as the complete request lists it (ChecksumCRC32, ...), if it does. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string } | undefined;
}

/** What a CompleteMultipartUpload request says about the object's checksum besides its parts. */
export interface CompletionChecksum {
  /** x-amz-checksum-type, if sent: must be the upload's. */
  type?: ChecksumType | undefined;
  /** x-amz-checksum-<algorithm>, if sent: the object's checksum the client expects. */
  expected?: { algorithm: ChecksumAlgorithm; value: string } | undefined;
}

export interface CompletionResult {
  etag: string;
  checksum: StoredChecksum | null;
}

export async function completeUpload(
  services: Services,
  upload: UploadRow,
  requested: CompletedPart[],
  condition: WriteCondition | undefined,
  completion: CompletionChecksum = {},
): Promise<CompletionResult> {
  if (requested.length === 0 || requested.length > MAX_PARTS) {
    throw new Refusal('malformed-part-list', 'The XML you provided was not well-formed or did not validate against our published schema.');
  }
  const stored = await keptPartUploads(services, upload, await allParts(services.db(), upload.uploadId));
  const chosen: PartRow[] = [];
  let previous = 0;
  for (const want of requested) {
    if (want.partNumber <= previous) {
      throw new Refusal('parts-out-of-order', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
    }
    previous = want.partNumber;
    const part = stored.get(want.partNumber)?.find((p) => opaqueEtag(p.etag) === opaqueEtag(want.etag));
    if (!part) {
      throw new Refusal('unknown-part', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part\'s entity tag.', {
        details: { PartNumber: String(want.partNumber), ETag: want.etag },
      });
    }
    if (want.checksum && (part.checksum?.algorithm !== want.checksum.algorithm || part.checksum.value !== want.checksum.value)) {
      throw new Refusal('unknown-part', 'One or more of the specified parts could not be found. The part may not have been uploaded, or the specified checksum may not match the part\'s checksum.', {
        details: { PartNumber: String(want.partNumber), ETag: want.etag },
      });
    }
    chosen.push(part);
  }
  const checksum = await objectChecksum(upload, requested, chosen, completion);
  // Sizes are judged only once every listed part is known to exist, as S3 does.
  const small = chosen.slice(0, -1).find((p) => p.size < MIN_PART_BYTES);
  if (small) {
    throw new Refusal('part-too-small', 'Your proposed upload is smaller than the minimum allowed object size.', {
      details: { PartNumber: String(small.partNumber), ProposedSize: String(small.size), MinSizeAllowed: String(MIN_PART_BYTES) },
    });
  }
  if (condition) checkWriteCondition(condition, await findObject(services.db(), upload.bucket, upload.key));

  // A concurrent completion of the same upload may win either step below; its result is then this one's too.
  const completedMeanwhile = () => findCompletedUpload(services.db(), upload.bucket, upload.key, upload.uploadId);
  const backend = services.backend(upload.backendName);
  try {
    await backend.completeMultipartUpload(
      upload.physicalKey,
      upload.backendUploadId,
      chosen.map((p) => ({ partNumber: p.partNumber, etag: p.backendEtag })),
    );
  } catch (err) {
    const done = await completedMeanwhile();
    if (done) return done;
    // The part list passed S3's rules here; a backend with stricter ones (Ceph radosgw 16 wants every uploaded
    // part listed) refuses it, and retrying will not help, so say so instead of "retry".
    if (err instanceof BackendError && err.status === 400) {
      services.log.warn('backend refused the part list', { upload_id: upload.uploadId, error: err.message });
      throw new Refusal('unknown-part', 'The storage backend refused this part list; list every uploaded part, in order.');
    }
    throw backendFailure(services, err);
  }
  const etag = await multipartEtag(chosen);
  const parts = assembledParts(chosen);
  try {
    await recordNewCopy(
      services,
      {
        bucket: upload.bucket,
        key: upload.key,
        version: upload.version,
        size: parts.reduce((n, p) => n + p.size, 0),
        etag,
        contentType: upload.contentType,
        metadata: upload.metadata,
        headers: upload.headers,
        checksum,
        contentSha256: await partsDigest(chosen),
        copy: {
          backendName: upload.backendName,
          physicalKey: upload.physicalKey,
          storedSize: chosen.reduce((n, p) => n + p.storedSize, 0),
          // Sealed per part: each part's segment has its own nonce (kept with the object's parts).
          encryption: upload.encryption,
        },
      },
      condition,
      { completesUpload: { uploadId: upload.uploadId, parts } },
    );
  } catch (err) {
    const done = await completedMeanwhile();
    if (done) return done;
    throw err;
  }
  return { etag, checksum };
}

/**
 * The object's checksum from its parts', for an upload made with a checksum algorithm (S3's rules): the complete
 * request lists every part's checksum when the type is COMPOSITE, names the upload's type if it names one, and
 * an object checksum it sends must match the one computed.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity-upload.html
 */
async function objectChecksum(
  upload: UploadRow,
  requested: readonly CompletedPart[],
  chosen: readonly PartRow[],
  completion: CompletionChecksum,
): Promise<StoredChecksum | null> {
  const settings = uploadChecksum(upload);
  if (!settings) {
    if (completion.type || completion.expected) {
      throw new Refusal('invalid-request', 'The upload was created without a checksum algorithm, so the complete request cannot name an object checksum.');
    }
    return null;
  }
  const { algorithm, type } = settings;
  if (completion.type && completion.type !== type) {
    throw new Refusal('invalid-request', `The upload was created using the ${type} checksum mode. The complete request must use the same checksum mode.`);
  }
  const missing = type === 'COMPOSITE' ? requested.find((p) => !p.checksum) : undefined;
  if (missing) {
    throw new Refusal('invalid-request',
      `The upload was created using a ${algorithm} checksum. The complete request must include the checksum for each part. It was missing for part ${missing.partNumber} in the request.`,
    );
  }
  const values = chosen.map((p) => {
    // Every part of such an upload was given one (computed when the client sent none).
    if (p.checksum?.algorithm !== algorithm) throw new Refusal('unknown-part', `Part ${p.partNumber} has no ${algorithm} checksum; upload it again.`);
    return { checksum: p.checksum.value, size: p.size };
  });
  const value =
    type === 'FULL_OBJECT' && isCrcAlgorithm(algorithm) ? combinedCrc(algorithm, values) : await compositeChecksum(algorithm, values.map((v) => v.checksum));
  const expected = completion.expected;
  if (expected && (expected.algorithm !== algorithm || (expected.value !== value && `${expected.value}-${chosen.length}` !== value))) {
    throw new Refusal('digest-mismatch', `The ${expected.algorithm.toUpperCase()} you specified for the object did not match the one calculated from its parts.`);
  }
  return { algorithm, value, type };
}

/** The chosen parts as the object holds them: each with the offset of its first byte. */
function assembledParts(chosen: readonly PartRow[]): AssembledPart[] {
  let firstByte = 0;
  return chosen.map((p) => {
    const part = { partNumber: p.partNumber, firstByte, size: p.size, etag: p.etag, checksum: p.checksum, sha256: p.sha256, nonce: p.nonce };
    firstByte += p.size;
    return part;
  });
}

/**
 * The backend's upload goes first. If the backend fails, the abort still succeeds for the client: the record goes
 * and the backend upload is queued for another abort (its parts' bytes held as orphaned until then), so nothing is
 * left on the backend untracked.
 */
export async function abortUpload(services: Services, upload: UploadRow): Promise<void> {
  try {
    await services.backend(upload.backendName).abortMultipartUpload(upload.physicalKey, upload.backendUploadId);
  } catch (err) {
    services.log.warn('backend abort failed; queued for cleanup', { backend: upload.backendName, upload: upload.uploadId, error: describeError(err) });
    await queueUploadAbort(services.db(), upload.uploadId, describeError(err));
    return;
  }
  await deleteUpload(services.db(), upload.uploadId);
}

/** The object's composite content digest from its parts'; null when a part has none (backfill-checksums fills it). */
async function partsDigest(parts: readonly PartRow[]): Promise<string | null> {
  const digests = parts.map((p) => p.sha256);
  return digests.every((d) => d !== null) ? compositeSha256(digests) : null;
}

/** S3's multipart ETag: MD5 of the concatenated binary MD5s of the parts, then "-" and the part count. */
async function multipartEtag(parts: PartRow[]): Promise<string> {
  const joined = new Uint8Array(parts.length * 16);
  parts.forEach((p, i) => {
    const hex = opaqueEtag(p.etag);
    for (let b = 0; b < 16; b++) joined[i * 16 + b] = parseInt(hex.slice(b * 2, b * 2 + 2), 16);
  });
  return `"${toHex(await crypto.subtle.digest('MD5', joined))}-${parts.length}"`;
}

function noSuchUpload(uploadId: string): Refusal {
  return new Refusal('no-such-upload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.', {
    details: { UploadId: uploadId },
  });
}

function isUploadId(uploadId: string): boolean {
  return /^[0-9a-f]{32}$/.test(uploadId);
}

function randomUploadId(): string {
  return randomHex(16);
}
