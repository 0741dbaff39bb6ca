/**
 * Uploads of one part number that overlap in time. Each is recorded once its bytes reached the backend, but the
 * backend keeps only the one that finished there last ("the previously uploaded part is overwritten"), and that
 * need not be the last one recorded. The backend's own part list says which one it kept; the others are dropped, so
 * their bytes stop counting as in flight (once: a dropped row is gone), and CompleteMultipartUpload accepts the
 * kept one's ETag. https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html
 */
import { describeError } from '../backends/client.ts';
import type { Services } from '../services/services.ts';
import { type PartRow, type UploadRow, dropPartUploads } from '../store/multipart.ts';
import { opaqueEtag } from './conditions.ts';

/** Parts per backend ListParts page (S3's maximum). */
const PAGE = 1000;

/**
 * After a part upload was recorded next to `recorded` (the backend ETags of every upload of its number recorded so
 * far, its own included): every one of them reached the backend before the list is read, so each one the backend
 * no longer holds was overwritten for good. Uploads recorded later are left to the later ones' own settling. A
 * backend that cannot list parts leaves them all to CompleteMultipartUpload.
 */
export async function settlePartUploads(services: Services, upload: UploadRow, partNumber: number, recorded: readonly string[]): Promise<void> {
  let kept: Map<number, string>;
  try {
    kept = await backendParts(services, upload, partNumber, partNumber);
  } catch (err) {
    services.log.info('overlapping part uploads left for complete: the backend did not list its parts', { upload_id: upload.uploadId, part: partNumber, error: describeError(err) });
    return;
  }
  const etag = kept.get(partNumber);
  // A backend that does not list the part at all is not trusted to say which upload it lost.
  if (etag === undefined) return;
  const lost = recorded.filter((e) => opaqueEtag(e) !== opaqueEtag(etag));
  await dropPartUploads(services.db(), upload.uploadId, partNumber, lost);
}

/**
 * The recorded uploads of each part number, narrowed to the one the backend holds where several are recorded (the
 * backend is asked only then). Left as they are if the backend cannot list its parts.
 */
export async function keptPartUploads(services: Services, upload: UploadRow, rows: readonly PartRow[]): Promise<Map<number, PartRow[]>> {
  const byNumber = new Map<number, PartRow[]>();
  for (const row of rows) byNumber.set(row.partNumber, [...(byNumber.get(row.partNumber) ?? []), row]);
  const overlapping = [...byNumber].filter(([, uploads]) => uploads.length > 1).map(([n]) => n);
  if (overlapping.length === 0) return byNumber;
  let kept: Map<number, string>;
  try {
    kept = await backendParts(services, upload, Math.min(...overlapping), Math.max(...overlapping));
  } catch (err) {
    services.log.warn('could not ask the backend which overlapping part uploads it kept', { upload_id: upload.uploadId, error: describeError(err) });
    return byNumber;
  }
  for (const n of overlapping) {
    const etag = kept.get(n);
    byNumber.set(n, (byNumber.get(n) ?? []).filter((row) => etag !== undefined && opaqueEtag(row.backendEtag) === opaqueEtag(etag)));
  }
  return byNumber;
}

/** The backend's ETag for each part it holds numbered `first` to `last`. */
async function backendParts(services: Services, upload: UploadRow, first: number, last: number): Promise<Map<number, string>> {
  const backend = services.backend(upload.backendName);
  const found = new Map<number, string>();
  for (let after = first - 1; after < last; ) {
    const page = await backend.listParts(upload.physicalKey, upload.backendUploadId, after, Math.min(PAGE, last - after));
    for (const part of page.parts) if (part.partNumber <= last) found.set(part.partNumber, part.etag);
    const next = page.parts.at(-1)?.partNumber;
    if (!page.truncated || next === undefined || next <= after) break;
    after = next;
  }
  return found;
}
