/**
 * Reading an object by part: GetObject and HeadObject with partNumber address the object's parts in order, 1 to
 * the part count, as a ranged read of that part. An object a multipart upload made has the parts it was assembled
 * from; any other object is one part, the whole object.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html#API_GetObject_RequestSyntax
 */
import type { ByteRange } from '../util/byte-range.ts';
import { Refusal } from './refusal.ts';
import type { Services } from '../services/services.ts';
import { findObjectPart } from '../store/object-parts.ts';
import type { StoredObject } from '../store/objects.ts';

export interface SelectedPart {
  /** The part's bytes; undefined for a part (or object) of no bytes. */
  range: ByteRange | undefined;
  /** x-amz-mp-parts-count: only for objects a multipart upload made. */
  partsCount: number | undefined;
}

/**
 * The part's place in the object; 'replaced' when the version's parts are gone (the object was overwritten since
 * it was looked up). Throws InvalidPartNumber (416) for a number past the last part.
 */
export async function selectPart(services: Services, object: StoredObject, partNumber: number): Promise<SelectedPart | 'replaced'> {
  if (object.uploadId === null) {
    if (partNumber !== 1) throw invalidPartNumber(partNumber, 1);
    return { range: spanOf(0, object.size), partsCount: undefined };
  }
  const { part, count } = await findObjectPart(services.db(), object, partNumber);
  if (count === 0) return 'replaced';
  if (!part) throw invalidPartNumber(partNumber, count);
  return { range: spanOf(part.firstByte, part.size), partsCount: count };
}

function spanOf(start: number, size: number): ByteRange | undefined {
  return size > 0 ? { start, end: start + size - 1 } : undefined;
}

function invalidPartNumber(requested: number, count: number): Refusal {
  return new Refusal('no-such-part', 'The requested partnumber is not satisfiable', {
    details: { PartNumberRequested: String(requested), ActualPartCount: String(count) },
  });
}
