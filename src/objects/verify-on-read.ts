/**
 * integrity.verify_on_read: a GET of a whole object hashes the bytes as they stream to the client and compares
 * them with the version's digest once the copy has been read to its end. Only a read to the end gives a verdict:
 * a client that stops early leaves the copy alone. On a mismatch the last chunk is held back and the stream is
 * failed instead (the client sees a broken transfer, never a clean end), and the copy is dropped like the scrub
 * drops one (never the object's last).
 */
import { createContentHasher, isCompositeDigest } from '../crypto/content-digest.ts';
import { describeError } from '../backends/client.ts';
import type { Services } from '../services/services.ts';
import type { StoredObject } from '../store/objects.ts';
import { versionParts } from '../store/integrity.ts';
import type { ObjectLocationRow } from '../store/schema.ts';
import { countCheck, dropCorrupt } from './copy-integrity.ts';

/** Whether this read is checked: the setting is on, the whole object is read, and its digest is known. */
export function verifiesRead(services: Services, object: StoredObject, wholeObject: boolean): boolean {
  return services.config.integrity.verifyOnRead && wholeObject && object.contentSha256 !== null;
}

/** The client's body: `body` passed through a hash, with the verdict taken at its end. */
export async function verifiedBody(
  services: Services,
  object: StoredObject,
  location: ObjectLocationRow,
  body: ReadableStream<Uint8Array>,
): Promise<ReadableStream<Uint8Array>> {
  const expected = object.contentSha256;
  if (expected === null) return body;
  // A composite digest is checked part by part (a sealed multipart copy's parts came with its record).
  let parts: readonly { size: number }[] | undefined;
  try {
    parts = isCompositeDigest(expected) ? (object.segments ?? (await versionParts(services.db(), object))) : undefined;
  } catch (err) {
    // A degraded read (the database away) is served unchecked rather than refused.
    services.log.warn('read not verified: its parts could not be read', { bucket: object.bucket, key: object.key, error: describeError(err) });
    return body;
  }
  const hasher = createContentHasher(parts?.map((p) => p.size));
  const out = new FixedLengthStream(object.size);
  services.waitUntil(pump(services, object, location, body, out.writable, hasher, expected));
  return out.readable;
}

async function pump(
  services: Services,
  object: StoredObject,
  location: ObjectLocationRow,
  body: ReadableStream<Uint8Array>,
  sink: WritableStream<Uint8Array>,
  hasher: ReturnType<typeof createContentHasher>,
  expected: string,
): Promise<void> {
  const reader = body.getReader();
  const writer = sink.getWriter();
  let held: Uint8Array | undefined;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (value.byteLength === 0) continue;
      await hasher.update(value);
      // The previous chunk goes out only now: the last one waits for the verdict.
      if (held) await writer.write(held);
      held = value;
    }
  } catch (err) {
    // The client went away, or the copy failed mid-read (its own error path has reported it): no verdict.
    await reader.cancel(err).catch(() => {});
    await writer.abort(err).catch(() => {});
    return;
  }
  const { digest } = await hasher.finish();
  const matched = digest === expected;
  countCheck(services, 'read', matched);
  if (matched) {
    try {
      if (held) await writer.write(held);
      await writer.close();
    } catch {
      // The client left just before the end; the copy was fine.
    }
    return;
  }
  const fields = { bucket: object.bucket, key: object.key, version: object.version, backend: location.backendName };
  services.log.error('copy read to the end did not match the object\'s content digest', { ...fields, expected, actual: digest });
  // The copy is dropped before the client is told: failing the response may end the invocation.
  try {
    await dropCorrupt(services, object, location, 'read');
  } catch (err) {
    services.log.warn('could not drop the corrupt copy', { ...fields, error: describeError(err) });
  }
  await writer.abort(new Error('the copy did not match its content digest')).catch(() => {});
}
