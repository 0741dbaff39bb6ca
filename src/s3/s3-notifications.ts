/**
 * The S3 surface's notifications: one event per successful data mutation a client made, built by the front door
 * from the same values as its audit record (src/s3/s3-audit.ts), once the answer is known. Refused and failed
 * mutations send nothing: nothing changed.
 */
import type { AuditRecord } from '../observe/audit.ts';
import type { NotificationEvent } from '../notify/cloud-event.ts';
import type { DataEventType } from '../notify/event-types.ts';
import type { S3Request } from './request.ts';

const EVENT_OF: Readonly<Record<string, DataEventType>> = {
  PutObject: 's3:ObjectCreated:Put',
  CopyObject: 's3:ObjectCreated:Copy',
  CompleteMultipartUpload: 's3:ObjectCreated:CompleteMultipartUpload',
  DeleteObject: 's3:ObjectRemoved:Delete',
  DeleteObjects: 's3:ObjectRemoved:DeleteBatch',
};

/** A DeleteBatch lists its keys until they take this many characters (a queue message holds at most 128 KB). */
const BATCH_KEYS_BUDGET = 64 * 1024;

export function s3Notification(operation: string, request: S3Request, record: AuditRecord): NotificationEvent | undefined {
  const type = EVENT_OF[operation];
  const bucket = request.bucket;
  if (!type || record.outcome !== 'success' || bucket === undefined) return undefined;
  const { params } = record;
  if (type === 's3:ObjectRemoved:DeleteBatch') {
    const removed = request.removedKeys ?? [];
    if (removed.length === 0) return undefined;
    const listed = keysWithin(removed, BATCH_KEYS_BUDGET);
    return {
      type,
      subject: bucket,
      data: { bucket, keys: listed, count: removed.length, errors: Number(params.errors ?? 0), truncated: listed.length < removed.length },
      keys: removed.map((key) => `${bucket}/${key}`),
    };
  }
  const key = request.key ?? '';
  const data: Record<string, string | number> = { bucket, key };
  for (const name of ['size', 'etag', 'copy_source', 'upload_id'] as const) {
    const value = params[name];
    if (typeof value === 'string' || typeof value === 'number') data[name] = value;
  }
  return { type, subject: `${bucket}/${key}`, data };
}

function keysWithin(keys: readonly string[], budget: number): string[] {
  const listed: string[] = [];
  let used = 0;
  for (const key of keys) {
    used += key.length + 3;
    if (used > budget) break;
    listed.push(key);
  }
  return listed;
}
