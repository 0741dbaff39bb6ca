/**
 * Uploading files from the browser: small ones in one streamed PUT, larger ones as a multipart upload of parts
 * read from the file one at a time (File.slice never loads the file), so any size the orchestrator takes works.
 * XMLHttpRequest rather than fetch because only it reports upload progress.
 */
import { ApiError, api, isRecord, query } from './api.ts';

const MiB = 1024 * 1024;
/** Above this a file goes up in parts (the API's parts are 5 MiB at least, 10000 at most). */
export const MULTIPART_FROM = 8 * MiB;
const MAX_PARTS = 10_000;

export type Progress = (sent: number, total: number) => void;

export async function uploadFile(bucket: string, key: string, file: File, progress: Progress): Promise<void> {
  const contentType = file.type || 'application/octet-stream';
  if (file.size <= MULTIPART_FROM) {
    await send(`/admin/api/objects${query({ bucket, key })}`, file, contentType, (sent) => progress(sent, file.size));
    return;
  }
  const partSize = Math.max(MULTIPART_FROM, Math.ceil(file.size / MAX_PARTS / MiB) * MiB);
  const { upload_id: id } = await api<{ upload_id: string }>('POST', '/admin/api/uploads', { bucket, key, content_type: contentType });
  const path = `/admin/api/uploads/${encodeURIComponent(id)}`;
  try {
    const parts: { part_number: number; etag: string }[] = [];
    for (let start = 0, number = 1; start < file.size; start += partSize, number++) {
      const body = await send(`${path}/parts/${number}${query({ bucket, key })}`, file.slice(start, start + partSize), undefined, (sent) => progress(start + sent, file.size));
      const etag = isRecord(body) && typeof body.etag === 'string' ? body.etag : '';
      parts.push({ part_number: number, etag });
    }
    await api('POST', `${path}/complete`, { bucket, key, parts });
  } catch (err) {
    // Leave nothing behind: the parts already stored count against the backend until the upload is aborted.
    await api('DELETE', `${path}${query({ bucket, key })}`).catch(() => undefined);
    throw err;
  }
}

function send(url: string, body: Blob, contentType: string | undefined, progress: (sent: number) => void): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('PUT', url);
    request.setRequestHeader('content-type', 'application/octet-stream');
    if (contentType) request.setRequestHeader('x-object-content-type', contentType);
    request.upload.onprogress = (event) => progress(event.loaded);
    request.onerror = () => reject(new Error(`the upload to ${url} failed (network error)`));
    request.onload = () => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(request.responseText);
      } catch {
        parsed = undefined;
      }
      if (request.status >= 200 && request.status < 300) {
        progress(body.size);
        resolve(parsed);
      } else {
        const message = isRecord(parsed) && typeof parsed.error === 'string' ? parsed.error : `${request.status} ${request.statusText}`;
        reject(new ApiError(request.status, message, parsed));
      }
    };
    request.send(body);
  });
}
