/**
 * The webhook signature: `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, body)>` over the exact bytes sent,
 * as the Go reference signs (and GitHub's `X-Hub-Signature-256`), so a receiver verifies before parsing.
 */
import { toHex } from '../crypto/encoding.ts';

export const SIGNATURE_HEADER = 'X-Webhook-Signature';

export async function signBody(secret: string, body: Uint8Array): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return `sha256=${toHex(new Uint8Array(await crypto.subtle.sign('HMAC', key, body)))}`;
}
