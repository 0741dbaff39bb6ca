/** GetObjectAttributes: what S3 says about an object without its bytes, its parts paged. */
import type { Services } from '../services/services.ts';
import { listObjectParts, summarizeObjectParts } from '../store/object-parts.ts';
import type { StoredObject } from '../store/objects.ts';
import type { ObjectPartRow } from '../store/schema.ts';
import { lookupObject } from './read-object.ts';

export interface ObjectPartsPage {
  count: number;
  /**
   * Parts numbered above the marker, up to the page size; undefined when the parts carry no checksums, since S3
   * then lists none (general purpose buckets: "the response doesn't return the Part element").
   */
  parts: ObjectPartRow[] | undefined;
  truncated: boolean;
}

/**
 * GetObjectAttributes: the object's record and, when asked for, a page of its parts (undefined for an object no
 * multipart upload made). The record is read again once if the object was replaced between the two reads.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectAttributes.html
 */
export async function objectAttributes(
  services: Services,
  bucket: string,
  key: string,
  page: { after: number; max: number } | undefined,
): Promise<{ object: StoredObject; parts: ObjectPartsPage | undefined }> {
  for (let attempt = 1; ; attempt++) {
    const object = await lookupObject(services, bucket, key);
    if (!page || object.uploadId === null) return { object, parts: undefined };
    const db = services.db();
    const { count, checksummed } = await summarizeObjectParts(db, object);
    if (count === 0 && attempt === 1) continue;
    if (!checksummed) return { object, parts: { count, parts: undefined, truncated: false } };
    const rows = page.max === 0 ? [] : await listObjectParts(db, object, page.after, page.max + 1);
    return { object, parts: { count, parts: rows.slice(0, page.max), truncated: rows.length > page.max } };
  }
}
