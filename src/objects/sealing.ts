/**
 * What the data path does when encryption fails: a key that cannot wrap or unwrap is the operator's to fix, so
 * the client gets a retryable 503 and the log names the key id; stored bytes that do not open are logged and
 * counted. Counters: encryption_operations:<op>, encryption_errors:<op>/<error type>,
 * encryption_unknown_key_id (see src/admin/fleet-metrics.ts).
 */
import { KeyError } from '../crypto/key-provider.ts';
import { CiphertextError } from '../crypto/segment-cipher.ts';
import type { Services } from '../services/services.ts';
import { Refusal } from './refusal.ts';

export type SealOperation = 'encrypt' | 'decrypt';

export function countSealing(services: Services, op: SealOperation): void {
  services.counters.add(`encryption_operations:${op}`);
}

/** The refusal for a key failure (anything else is returned as it is). */
export function keyRefusal(services: Services, err: unknown, op: SealOperation, fields: Record<string, unknown> = {}): unknown {
  if (!(err instanceof KeyError)) return err;
  services.counters.add(`encryption_errors:${op}/${err.reason}`);
  if (err.reason === 'unknown-key-id') services.counters.add('encryption_unknown_key_id');
  services.log.error(err.reason === 'unknown-key-id' ? 'encryption key not configured' : 'encryption key failed', {
    key_id: err.keyId,
    reason: err.reason,
    error: err.message,
    ...fields,
  });
  const what = err.reason === 'provider-unavailable' ? 'The encryption key service is not answering' : `The encryption key ${err.keyId} of this object is not available`;
  return new Refusal('unavailable', `${what}; please retry later`);
}

/**
 * A decrypted body whose first chunk has opened before the client is answered: stored bytes that fail there throw
 * (the read tries another copy); a later chunk that fails is logged and counted, and cuts the body short.
 */
export async function openedBody(services: Services, body: ReadableStream<Uint8Array>, fields: Record<string, unknown>): Promise<ReadableStream<Uint8Array>> {
  const reader = body.getReader();
  const failed = (err: unknown) => {
    if (err instanceof CiphertextError) {
      services.counters.add(`encryption_errors:decrypt/${err.problem}`);
      services.log.error('stored copy failed to decrypt', { problem: err.problem, error: err.message, ...fields });
    }
    return err;
  };
  let first: ReadableStreamReadResult<Uint8Array>;
  try {
    first = await reader.read();
  } catch (err) {
    throw failed(err);
  }
  let held: ReadableStreamReadResult<Uint8Array> | undefined = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = held ?? (await reader.read());
        held = undefined;
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      } catch (err) {
        controller.error(failed(err));
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
