/**
 * Who wraps and unwraps the data keys: the configured master key (primary) and previous keys, or Vault Transit as
 * the primary with inline previous keys. A key's id is stable and derived from the key itself (a fingerprint), or
 * for Vault from its mount and key name (Vault versions its keys inside the ciphertext), never a position in a
 * list: moving the old key into `previous_keys` keeps every object it wraps readable.
 */
import { fromBase64, toBase64, toHex } from './encoding.ts';

/** A wrapped data key as a copy's record keeps it. */
export interface WrappedKey {
  keyId: string;
  /** base64 of nonce | AES-256-GCM ciphertext and tag for inline keys; Vault's `vault:vN:...` string for Vault. */
  wrapped: string;
}

export type KeyFailure = 'unknown-key-id' | 'unwrap-failed' | 'provider-unavailable';

/** Why a data key could not be wrapped or unwrapped; the key id is named in logs and errors. */
export class KeyError extends Error {
  readonly reason: KeyFailure;
  readonly keyId: string;
  constructor(reason: KeyFailure, keyId: string, message: string) {
    super(message);
    this.name = 'KeyError';
    this.reason = reason;
    this.keyId = keyId;
  }
}

export interface KeyInfo {
  id: string;
  /** The seed's positional spelling for the same key today: config-0 is the primary, config-N previous_keys[N-1]. */
  alias: string;
  primary: boolean;
}

export interface KeyProvider {
  readonly primaryId: string;
  /** Every key, primary first. */
  readonly keys: readonly KeyInfo[];
  wrap(dataKey: Uint8Array): Promise<WrappedKey>;
  unwrap(key: WrappedKey): Promise<Uint8Array>;
}

/** How a key provider reaches Vault: its HTTP API, with the token it was configured with. */
export interface VaultSettings {
  address: string;
  token: string;
  keyName: string;
  mountPath: string;
}

const INLINE_WRAP_AAD_PREFIX = 's3o data key v1:';
const VAULT_TIMEOUT_MS = 10_000;

/** `k-` and 16 hex characters of SHA-256 over a label and the key: names the key without revealing it. */
export async function inlineKeyId(raw: Uint8Array): Promise<string> {
  const label = new TextEncoder().encode('s3o key id v1:');
  const input = new Uint8Array(label.byteLength + raw.byteLength);
  input.set(label);
  input.set(raw, label.byteLength);
  return `k-${toHex(await crypto.subtle.digest('SHA-256', input)).slice(0, 16)}`;
}

export function vaultKeyId(vault: Pick<VaultSettings, 'mountPath' | 'keyName'>): string {
  return `vault:${vault.mountPath}/${vault.keyName}`;
}

interface Wrapper {
  id: string;
  wrap(dataKey: Uint8Array): Promise<string>;
  unwrap(wrapped: string): Promise<Uint8Array>;
}

async function inlineWrapper(base64Key: string): Promise<Wrapper> {
  const raw = fromBase64(base64Key);
  if (!raw || raw.byteLength !== 32) throw new Error('an encryption key must be base64 of exactly 32 bytes');
  const id = await inlineKeyId(raw);
  const key = await crypto.subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
  const additionalData = new TextEncoder().encode(INLINE_WRAP_AAD_PREFIX + id);
  return {
    id,
    async wrap(dataKey) {
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData }, key, dataKey));
      const out = new Uint8Array(iv.byteLength + sealed.byteLength);
      out.set(iv);
      out.set(sealed, iv.byteLength);
      return toBase64(out);
    },
    async unwrap(wrapped) {
      const bytes = fromBase64(wrapped);
      if (!bytes || bytes.byteLength !== 12 + 32 + 16) throw new KeyError('unwrap-failed', id, `the data key wrapped by ${id} is malformed`);
      try {
        return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData }, key, bytes.subarray(12)));
      } catch {
        throw new KeyError('unwrap-failed', id, `the data key wrapped by ${id} does not open with that key`);
      }
    },
  };
}

function vaultWrapper(vault: VaultSettings, fetcher: typeof fetch): Wrapper {
  const id = vaultKeyId(vault);
  const call = async (operation: 'encrypt' | 'decrypt', body: Record<string, string>): Promise<Record<string, unknown>> => {
    const url = `${vault.address.replace(/\/+$/, '')}/v1/${vault.mountPath}/${operation}/${encodeURIComponent(vault.keyName)}`;
    let response: Response;
    try {
      response = await fetcher(url, {
        method: 'POST',
        headers: { 'x-vault-token': vault.token, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(VAULT_TIMEOUT_MS),
      });
    } catch (err) {
      throw new KeyError('provider-unavailable', id, `Vault did not answer the ${operation} call for ${id}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await response.text();
    if (!response.ok) {
      // Vault answers 400 for a ciphertext its key cannot open; anything else is Vault being away or misconfigured.
      const reason = operation === 'decrypt' && response.status === 400 ? 'unwrap-failed' : 'provider-unavailable';
      throw new KeyError(reason, id, `Vault answered ${response.status} to the ${operation} call for ${id}: ${text.slice(0, 200)}`);
    }
    const parsed: unknown = JSON.parse(text);
    const data = (parsed as { data?: unknown }).data;
    if (typeof data !== 'object' || data === null) throw new KeyError('provider-unavailable', id, `Vault's ${operation} answer for ${id} has no data`);
    return data as Record<string, unknown>;
  };
  return {
    id,
    async wrap(dataKey) {
      const data = await call('encrypt', { plaintext: toBase64(dataKey) });
      if (typeof data.ciphertext !== 'string') throw new KeyError('provider-unavailable', id, `Vault's encrypt answer for ${id} has no ciphertext`);
      return data.ciphertext;
    },
    async unwrap(wrapped) {
      const data = await call('decrypt', { ciphertext: wrapped });
      const plain = typeof data.plaintext === 'string' ? fromBase64(data.plaintext) : undefined;
      if (!plain || plain.byteLength !== 32) throw new KeyError('unwrap-failed', id, `Vault's decrypt answer for ${id} is not a 32-byte key`);
      return plain;
    },
  };
}

export interface KeySettings {
  masterKey?: string | undefined;
  vault?: VaultSettings | undefined;
  previousKeys: readonly string[];
}

/** The provider for a configuration's keys; throws when a key is malformed (validation refuses such a config). */
export async function createKeyProvider(settings: KeySettings, fetcher: typeof fetch = fetch): Promise<KeyProvider> {
  const primary = settings.vault ? vaultWrapper(settings.vault, fetcher) : await inlineWrapper(settings.masterKey ?? '');
  const previous = await Promise.all(settings.previousKeys.map(inlineWrapper));
  const wrappers = [primary, ...previous];
  const byId = new Map(wrappers.map((w) => [w.id, w]));
  return {
    primaryId: primary.id,
    keys: wrappers.map((w, i) => ({ id: w.id, alias: `config-${i}`, primary: i === 0 })),
    async wrap(dataKey) {
      return { keyId: primary.id, wrapped: await primary.wrap(dataKey) };
    },
    async unwrap(key) {
      const wrapper = byId.get(key.keyId);
      if (!wrapper) throw new KeyError('unknown-key-id', key.keyId, `no configured encryption key has id ${key.keyId}`);
      return wrapper.unwrap(key.wrapped);
    },
  };
}
