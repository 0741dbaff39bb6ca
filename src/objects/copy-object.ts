/**
 * Copying an object within the virtual bucket. When the chosen destination backend already holds a copy of the
 * source, the backend copies it server-side; otherwise the bytes stream from a source copy to the destination
 * through the upload pump, which re-verifies them (SHA-256, any stored checksum) on the way. The new object's
 * content digest is the source's when it is a plain one (a server-side copy) or computed (a streamed copy).
 */
import { Refusal } from './refusal.ts';
import type { Services } from '../services/services.ts';
import type { StoredObject } from '../store/objects.ts';
import { isChecksumAlgorithm } from '../crypto/checksums.ts';
import { newVersion, physicalKey } from './physical-key.ts';
import { discardCopies } from './discard-copies.ts';
import { chooseBackend, putObject, recordNewCopy } from './put-object.ts';
import { openStoredObject } from './read-object.ts';
import { plainSource } from '../util/chunk-source.ts';
import { isCompositeDigest } from '../crypto/content-digest.ts';

/** Where a copy goes and what it is described as. */
export interface CopyTarget {
  bucket: string;
  key: string;
  contentType: string;
  metadata: Record<string, string>;
  headers: Record<string, string>;
}

export interface CopyResult {
  etag: string;
  lastModified: Date;
}

export async function copyObject(services: Services, source: StoredObject, target: CopyTarget): Promise<CopyResult> {
  const storedSize = services.storage.storedSize(source.size);
  const backendName = await chooseBackend(services, storedSize, { recentSpace: true });
  const local = source.locations.find((l) => l.backendName === backendName);
  // Server-side copy only when the stored bytes need no re-encoding on the way: sealed bytes are bound to their
  // own physical key, and a new copy is sealed when encryption is on.
  if (local && !local.encryption && !services.storage.sealing) {
    const version = newVersion(services.now());
    const copy = { backendName, physicalKey: await physicalKey(target.bucket, target.key, version), storedSize: local.storedSize };
    try {
      await services.backend(backendName).copyObject(local.physicalKey, copy.physicalKey);
    } catch (err) {
      // Some S3 implementations mis-decode copy sources with unusual characters (Ceph radosgw 16 answers 404 for
      // keys with spaces or "+"); the streamed copy below does not depend on it.
      services.log.warn('server-side copy failed; streaming the copy instead', { backend: backendName, error: String(err) });
      await discardCopies(services, [copy], 'upload_failed');
      return streamedCopy(services, source, target);
    }
    await recordNewCopy(
      services,
      {
        ...target,
        version,
        size: source.size,
        etag: source.etag,
        checksum: source.checksum,
        // The parts are not carried (the copy is one piece), so only a plain digest still describes it.
        contentSha256: plainDigest(source),
        copy,
      },
      undefined,
      { operation: 'CopyObject' },
    );
    return { etag: source.etag, lastModified: new Date(services.now()) };
  }
  return streamedCopy(services, source, target);
}

async function streamedCopy(services: Services, source: StoredObject, target: CopyTarget): Promise<CopyResult> {
  const body = await openStoredObject(services, source);
  const checksum = source.checksum && isChecksumAlgorithm(source.checksum.algorithm)
    ? { algorithm: source.checksum.algorithm, value: source.checksum.value }
    : undefined;
  try {
    const result = await putObject(services, {
      ...target,
      source: plainSource(body),
      size: source.size,
      // The bytes are hashed on the way and checked against what the source recorded.
      expect: { checksum, sha256: plainDigest(source) ?? undefined },
    });
    return { etag: result.etag, lastModified: new Date(services.now()) };
  } catch (err) {
    await body.cancel().catch(() => {});
    // A source copy that does not match its own record is a backend problem, not the client's.
    if (err instanceof Refusal && (err.reason === 'digest-mismatch' || err.reason === 'signed-hash-mismatch' || err.reason === 'body-length-mismatch')) {
      services.log.error('copy source did not match its record', { bucket: source.bucket, key: source.key, reason: err.reason });
      throw new Refusal('internal', 'We encountered an internal error. Please try again.');
    }
    throw err;
  }
}

/** The source's digest if it describes the object as one piece (a composite one needs the parts). */
function plainDigest(source: StoredObject): string | null {
  return source.contentSha256 !== null && !isCompositeDigest(source.contentSha256) ? source.contentSha256 : null;
}
