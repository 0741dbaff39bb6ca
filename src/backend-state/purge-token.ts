/**
 * The confirmation token a purge needs, issued by the backend's own Durable Object: HMAC-signed with a key kept
 * in its storage, bound to the backend and the action, valid CONFIRM_TTL_MS, usable once (used nonces are kept
 * until they expire).
 */
import { decodeBase64url, encodeBase64url } from '../crypto/encoding.ts';

export const CONFIRM_TTL_MS = 60_000;

/** Storage for the token key and the tokens already used (the Durable Object's own). */
export interface TokenStore {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
}

interface TokenClaims {
  action: 'purge';
  backend: string;
  exp: number;
  nonce: string;
}

async function signingKey(tokens: TokenStore): Promise<CryptoKey> {
  let raw = await tokens.get<number[]>('confirm-key');
  if (!raw) {
    raw = [...crypto.getRandomValues(new Uint8Array(32))];
    await tokens.put('confirm-key', raw);
  }
  return crypto.subtle.importKey('raw', new Uint8Array(raw), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
}

export async function issueToken(tokens: TokenStore, backend: string, now: number): Promise<string> {
  const claims: TokenClaims = { action: 'purge', backend, exp: now + CONFIRM_TTL_MS, nonce: encodeBase64url(crypto.getRandomValues(new Uint8Array(12))) };
  const payload = encodeBase64url(new TextEncoder().encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign('HMAC', await signingKey(tokens), new TextEncoder().encode(payload));
  return `${payload}.${encodeBase64url(new Uint8Array(signature))}`;
}

/** Undefined when the token is good (and now used up); otherwise why it is refused. */
export async function useToken(tokens: TokenStore, backend: string, token: string, now: number): Promise<string | undefined> {
  const [payload, signaturePart] = token.split('.');
  const signature = decodeBase64url(signaturePart ?? '');
  const claimBytes = decodeBase64url(payload ?? '');
  const malformed = 'the confirmation token is malformed (not one --purge issued); get a new one with --purge';
  if (!payload || !signature || signature.length === 0 || !claimBytes) return malformed;
  let claims: TokenClaims;
  try {
    claims = JSON.parse(new TextDecoder().decode(claimBytes)) as TokenClaims;
  } catch {
    return malformed;
  }
  if (typeof claims !== 'object' || claims === null || typeof claims.backend !== 'string') return malformed;
  // Each backend signs with its own key: say plainly when a genuine-looking token names another backend.
  if (claims.backend !== backend) return `the confirmation token is for backend ${claims.backend}, not ${backend}`;
  const valid = await crypto.subtle.verify('HMAC', await signingKey(tokens), signature, new TextEncoder().encode(payload)).catch(() => false);
  if (!valid) return 'the confirmation token is not valid for this backend (altered, or not issued by it)';
  if (claims.action !== 'purge') return 'the confirmation token is for another action';
  if (now > claims.exp) return 'the confirmation token has expired (they last 60 s); get a new one with --purge';
  const used = ((await tokens.get<Record<string, number>>('used-confirm-tokens')) ?? {}) as Record<string, number>;
  if (used[claims.nonce] !== undefined) return 'the confirmation token was already used';
  const kept = Object.fromEntries(Object.entries(used).filter(([, exp]) => exp > now));
  await tokens.put('used-confirm-tokens', { ...kept, [claims.nonce]: claims.exp });
  return undefined;
}
