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

/** Logs and counts stored bytes of a sealed copy that do not open (other errors are the caller's). */
export function reportOpeningFailure(services: Services, err: unknown, fields: Record<string, unknown>): void {
  if (!(err instanceof CiphertextError)) return;
  services.counters.add(`encryption_errors:decrypt/${err.problem}`);
  services.log.error('stored copy failed to decrypt', { problem: err.problem, error: err.message, ...fields });
}
