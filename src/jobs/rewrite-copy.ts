/**
 * One copy of encrypt-existing or decrypt-existing: its client bytes are read from its backend (opened when
 * sealed), checked against the object's record, written as a new physical object on the same backend (sealed
 * under a fresh data key, or as is), and the record is swapped to it by compare-and-swap; the old bytes go after
 * the commit. A client's overwrite or delete, a drain or another job in between wins: the new bytes are removed
 * and the copy is skipped. A crash anywhere leaves the record on bytes that read, and the accounting exact.
 */
import { describeError } from '../backends/client.ts';
import { hexToBase64, randomHex } from '../crypto/encoding.ts';
import { isChecksumAlgorithm } from '../crypto/checksums.ts';
import { asIsEncoder, needsParts } from '../crypto/storage-transform.ts';
import { segmentStoredSize } from '../crypto/envelope-format.ts';
import { discardCopies } from '../objects/discard-copies.ts';
import { physicalKey } from '../objects/physical-key.ts';
import { freeBytes } from '../objects/placement.ts';
import { streamToBackend } from '../objects/put-object.ts';
import type { Services } from '../services/services.ts';
import { type BatchCopy, copyUnchanged, swapCopy } from '../store/bulk-jobs.ts';
import { partSegments } from '../store/object-parts.ts';
import { backendSpace } from '../store/quotas.ts';
import { completeCleanup, dueNow, queueAhead } from '../store/cleanup.ts';
import { plainSource } from '../util/chunk-source.ts';
import type { DigestExpectations } from '../objects/upload-pump.ts';

/**
 * How long a rewrite's new bytes wait in the cleanup queue before they are deleted unless recorded: longer than a
 * queue invocation may run (15 minutes), so bytes being written are never deleted under the writer.
 */
const PENDING_REWRITE_MS = 60 * 60_000;

export type CopyOutcome = { outcome: 'succeeded'; bytes: number } | { outcome: 'skipped' } | { outcome: 'failed'; error: string };

/** Seals a plaintext copy (`seal`) or opens a sealed one into plaintext. */
export async function rewriteCopy(services: Services, copy: BatchCopy, seal: boolean): Promise<CopyOutcome> {
  const { location, object } = copy;
  const db = services.db();
  if (!services.config.backends.some((b) => b.name === location.backendName)) {
    return { outcome: 'failed', error: `backend ${location.backendName} is not in the configuration` };
  }
  if (seal !== (location.encryption === null)) return { outcome: 'skipped' };
  // A new physical key on the same backend: `~<version>.<tag>` still belongs to the object's key.
  const target = await physicalKey(location.bucket, location.key, `${object.version}.${randomHex(4)}`);
  const started = seal ? await services.storage.writeCopy(target) : { encoder: asIsEncoder, encryption: null };
  if (seal && !started.encryption) return { outcome: 'failed', error: 'encryption is not enabled (encryption.enabled with a key, then deploy)' };
  const storedSize = started.encryption ? segmentStoredSize(object.size, started.encryption.chunkSize) : object.size;
  const growth = storedSize - location.storedSize;
  if (growth > 0) {
    const [space] = await backendSpace(db, [location.backendName]);
    if (!space || space.mode !== 'active' || freeBytes(space) < growth) {
      return { outcome: 'failed', error: `backend ${location.backendName} has no room for the ${growth} bytes this copy grows by` };
    }
  }
  const segments = needsParts(location) ? await partSegments(db, { bucket: location.bucket, key: location.key, version: object.version }) : undefined;
  const plan = await services.storage.readCopy(location, object.size, undefined, segments);
  const backend = services.backend(location.backendName);
  const rewritten = { backendName: location.backendName, physicalKey: target, storedSize };
  // Queued for deletion before a byte is written: if this isolate dies before the swap, the queue removes them.
  const queued = await queueAhead(db, rewritten, 'rewrite_pending', PENDING_REWRITE_MS);
  const abandon = async () => {
    try {
      await backend.deleteObject(target);
      await completeCleanup(db, queued);
    } catch {
      await dueNow(db, queued);
    }
  };
  try {
    const response = await backend.getObject(location.physicalKey);
    const body = response.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
    await streamToBackend(services, plainSource(await plan.decode(body)), recordedDigests(copy), { storedSize, encoder: started.encoder }, (stream) =>
      backend.putObject(target, stream, storedSize),
    );
  } catch (err) {
    await abandon();
    // A client's overwrite or delete (or a drain) may have removed the bytes being read: that copy is gone, not failed.
    if (!(await copyUnchanged(db, location))) return { outcome: 'skipped' };
    return { outcome: 'failed', error: describeError(err) };
  }
  const swapped = await swapCopy(db, location, { physicalKey: target, storedSize, encryption: started.encryption }, queued).catch(async (err: unknown) => {
    await abandon();
    throw err;
  });
  if (swapped !== 'swapped') {
    await abandon();
    if (swapped === 'no-room') return { outcome: 'failed', error: `backend ${location.backendName} has no room for the ${growth} bytes this copy grows by` };
    return { outcome: 'skipped' };
  }
  services.memory.locations.forget(location.bucket, location.key);
  await discardCopies(services, [{ backendName: location.backendName, physicalKey: location.physicalKey, storedSize: location.storedSize }], 'rewrite_replaced');
  return { outcome: 'succeeded', bytes: object.size };
}

/**
 * What the client's bytes must hash to, from the object's record: its size always, its MD5 when the ETag is one
 * (not a multipart ETag), and its full-object checksum if it has one. A copy that does not match is not rewritten.
 */
function recordedDigests(copy: BatchCopy): DigestExpectations {
  const { object } = copy;
  const md5 = /^"([0-9a-f]{32})"$/.exec(object.etag)?.[1];
  const checksum = object.checksum;
  const fullObject = checksum && (checksum.type ?? 'FULL_OBJECT') === 'FULL_OBJECT' && isChecksumAlgorithm(checksum.algorithm) ? { algorithm: checksum.algorithm, value: checksum.value } : undefined;
  return {
    length: object.size,
    ...(md5 ? { md5Base64: hexToBase64(md5) } : {}),
    ...(fullObject ? { checksum: fullObject } : {}),
  };
}
