/** DeleteObjects. https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html */
import { deleteObject } from '../../objects/delete-object.ts';
import { errorFields } from '../../observe/log.ts';
import type { Handler } from '../dispatch-types.ts';
import { isS3Error } from '../errors.ts';
import { isRefusal } from '../../objects/refusal.ts';
import { s3ErrorOf } from '../refusals.ts';
import { xmlResponse } from '../responses.ts';
import { malformed, readXmlBody } from '../xml-body.ts';
import { child, childrenNamed } from '../../util/xml-read.ts';
import type { XmlNode } from '../../util/xml.ts';

const MAX_KEYS = 1000;
const MAX_KEY_BYTES = 1024;
/** Keys deleted at once: each is its own short transaction and a backend delete per copy. */
const PARALLEL_DELETES = 8;

/** Always 200: each key reports its own outcome; missing keys count as deleted, as in S3. */
export const DeleteObjects: Handler = async (services, request, auth) => {
  const document = await readXmlBody(request, auth, { rootName: 'Delete', requireIntegrity: true });
  const quiet = child(document, 'Quiet')?.text.trim().toLowerCase() === 'true';
  const keys = childrenNamed(document, 'Object').map((object) => {
    const key = child(object, 'Key');
    if (!key) throw malformed();
    return key.text;
  });
  if (keys.length === 0 || keys.length > MAX_KEYS) throw malformed();
  request.audit.count = keys.length;

  type Outcome = { key: string; error?: { code: string; message: string } };
  const outcomes = new Array<Outcome | undefined>(keys.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < keys.length; i = next++) {
      const key = keys[i]!;
      if (key === '' || new TextEncoder().encode(key).length > MAX_KEY_BYTES) {
        outcomes[i] = { key, error: { code: 'KeyTooLongError', message: 'Your key is too long' } };
        continue;
      }
      try {
        await deleteObject(services, auth.bucket, key);
        outcomes[i] = { key };
      } catch (err) {
        services.log.error('batch delete of one key failed', { key, ...errorFields(err) });
        const code = isS3Error(err) ? err.code : isRefusal(err) ? s3ErrorOf(err).code : 'InternalError';
        outcomes[i] = { key, error: { code, message: 'We encountered an internal error. Please try again.' } };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DELETES, keys.length) }, worker));
  const done = outcomes.filter((o): o is Outcome => o !== undefined);
  const deleted: XmlNode[] = quiet ? [] : done.filter((o) => !o.error).map((o) => ({ Key: o.key }));
  request.audit.errors = done.filter((o) => o.error).length;
  request.removedKeys = done.filter((o) => !o.error).map((o) => o.key);
  const errors: XmlNode[] = done.flatMap((o) => (o.error ? [{ Key: o.key, Code: o.error.code, Message: o.error.message }] : []));
  return xmlResponse('DeleteResult', { Deleted: deleted, Error: errors });
};
