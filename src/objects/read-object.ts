/** Reading an object: the record from the database, the bytes from the first copy that answers. */
import { type ByteRange, describeError } from '../backends/client.ts';
import { S3Error } from '../s3/errors.ts';
import type { Services } from '../s3/services.ts';
import { type StoredObject, findObject } from '../store/objects.ts';

export async function lookupObject(services: Services, bucket: string, key: string): Promise<StoredObject> {
  const object = await findObject(services.db(), bucket, key);
  if (!object) throw new S3Error('NoSuchKey', 'The specified key does not exist.', { details: { Key: key } });
  return object;
}

/** Tries the copies oldest first; the client sees one normal response, or an error once every copy failed. */
export async function openObjectBody(
  services: Services,
  object: StoredObject,
  range: ByteRange | undefined,
): Promise<ReadableStream<Uint8Array>> {
  const plan = services.storage.readPlan(range, object.size);
  const failures: string[] = [];
  for (const location of object.locations) {
    try {
      const response = await services.backend(location.backendName).getObject(location.physicalKey, plan.storedRange);
      if (!response.body) return new ReadableStream({ start: (c) => c.close() });
      return plan.decode(response.body);
    } catch (err) {
      failures.push(describeError(err));
    }
  }
  services.log.error('every copy failed to read', { bucket: object.bucket, key: object.key, failures });
  throw new S3Error('InternalError', 'We encountered an internal error. Please try again.');
}
