/**
 * remove-backend, run inside the backend's Durable Object so it cannot interleave with a drain starting: drop the
 * database records (objects stay on the backend's storage), or with a purge also delete every tracked object
 * there. A purge needs a confirmation token the same object issued: HMAC-signed, bound to this backend and this
 * action, valid 60 s, usable once.
 */
import { mapBounded } from '../util/bounded.ts';
import { decodeBase64url, encodeBase64url } from '../crypto/encoding.ts';
import { describeError } from './client.ts';
import { createServices, newRequestId } from '../runtime/services.ts';
import { resolveActiveConfig } from '../runtime/active-config.ts';
import type { Bindings } from '../runtime/bindings.ts';
import { recordedOn, removeBackendRecords } from '../store/backend-states.ts';
import { drainCandidates, uploadsOn } from '../store/drain.ts';
import { type DurableState, markRemoved, readState } from './drain-control.ts';

export const CONFIRM_TTL_MS = 60_000;
const PURGE_PAGE = 500;
const PURGE_CONCURRENCY = 4;

/** Storage for the token key and the tokens already used (the Durable Object's own). */
export interface TokenStore {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(key: string, value: T): Promise<void>;
}

export type RemoveResult =
  | { ok: true; body: Record<string, unknown> }
  | { ok: false; code: 403 | 404 | 409 | 503; error: string };

export async function removeBackend(
  durable: DurableState,
  tokens: TokenStore,
  backend: string,
  request: { purge: boolean; confirm?: string | undefined },
  bindings: Bindings,
): Promise<RemoveResult> {
  const state = await readState(durable);
  if (state.mode === 'draining') {
    return { ok: false, code: 409, error: `backend ${backend} is draining; cancel the drain first (admin drain-cancel ${backend})` };
  }
  const loaded = await resolveActiveConfig(bindings);
  if (!loaded.ok) return { ok: false, code: 503, error: 'the orchestrator is not configured correctly; see its logs' };
  const { services, close } = createServices(bindings, loaded.active, newRequestId());
  const log = services.log.with({ backend, component: 'remove-backend' });
  try {
    const db = services.db();
    const alreadyRemoved = `backend ${backend} was already removed: its records are gone, so nothing is left to remove or purge (objects still on its storage are outside the orchestrator's records)`;
    if (request.purge && request.confirm === undefined) {
      if (state.mode === 'removed') return { ok: false, code: 409, error: alreadyRemoved };
      const left = await recordedOn(db, backend);
      return {
        ok: true,
        body: {
          status: 'confirmation required',
          backend,
          object_count: left.objects,
          total_bytes: left.bytes,
          confirm_token: await issueToken(tokens, backend),
          expires_in: CONFIRM_TTL_MS / 1000,
        },
      };
    }
    if (request.purge) {
      const refusal = await useToken(tokens, backend, request.confirm ?? '');
      if (refusal) return { ok: false, code: 403, error: refusal };
      if (state.mode === 'removed') return { ok: false, code: 409, error: alreadyRemoved };
      if (!loaded.active.config.backends.some((b) => b.name === backend)) {
        return { ok: false, code: 409, error: `backend ${backend} is not in the configuration, so its objects cannot be reached to purge them` };
      }
      const purged = await purgeObjects(services, backend);
      log.warn('backend purged: objects deleted from its storage', purged);
      const removed = await removeBackendRecords(db, backend);
      await markRemoved(durable, backend);
      return { ok: true, body: { status: 'backend purged', backend, objects_deleted: purged.deleted, delete_failures: purged.failed, records_dropped: removed.objects } };
    }
    if (state.mode === 'removed') return { ok: false, code: 409, error: alreadyRemoved };
    const removed = await removeBackendRecords(db, backend);
    await markRemoved(durable, backend);
    log.warn('backend removed: records dropped, objects left on its storage', { objects: removed.objects, bytes: removed.bytes });
    return { ok: true, body: { status: 'backend removed', backend, records_dropped: removed.objects, bytes_dropped: removed.bytes } };
  } finally {
    bindings.waitUntil(close().catch(() => {}));
  }
}

/** Deletes every tracked copy and in-progress upload on the backend; failures are logged and counted, not fatal. */
async function purgeObjects(services: ReturnType<typeof createServices>['services'], backend: string): Promise<{ deleted: number; failed: number }> {
  const db = services.db();
  const client = services.backend(backend);
  let deleted = 0;
  let failed = 0;
  for (const upload of await uploadsOn(db, backend)) {
    await client.abortMultipartUpload(upload.physicalKey, upload.backendUploadId).catch((err: unknown) => {
      failed++;
      services.log.warn('purge could not abort an upload', { backend, upload: upload.uploadId, error: describeError(err) });
    });
  }
  let cursor: { bucket: string; key: string } | undefined;
  for (;;) {
    const page = await drainCandidates(db, backend, cursor, PURGE_PAGE);
    await mapBounded(page, PURGE_CONCURRENCY, async (copy) => {
      try {
        await client.deleteObject(copy.physicalKey);
        deleted++;
      } catch (err) {
        failed++;
        services.log.warn('purge could not delete an object', { backend, physical_key: copy.physicalKey, error: describeError(err) });
      }
    });
    const last = page[page.length - 1];
    if (page.length < PURGE_PAGE || !last) return { deleted, failed };
    cursor = { bucket: last.bucket, key: last.key };
  }
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

async function issueToken(tokens: TokenStore, backend: string): Promise<string> {
  const claims: TokenClaims = { action: 'purge', backend, exp: Date.now() + CONFIRM_TTL_MS, nonce: encodeBase64url(crypto.getRandomValues(new Uint8Array(12))) };
  const payload = encodeBase64url(new TextEncoder().encode(JSON.stringify(claims)));
  const signature = await crypto.subtle.sign('HMAC', await signingKey(tokens), new TextEncoder().encode(payload));
  return `${payload}.${encodeBase64url(new Uint8Array(signature))}`;
}

/** Undefined when the token is good (and now used up); otherwise why it is refused. */
async function useToken(tokens: TokenStore, backend: string, token: string): Promise<string | undefined> {
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
  if (Date.now() > claims.exp) return 'the confirmation token has expired (they last 60 s); get a new one with --purge';
  const used = ((await tokens.get<Record<string, number>>('used-confirm-tokens')) ?? {}) as Record<string, number>;
  if (used[claims.nonce] !== undefined) return 'the confirmation token was already used';
  const now = Date.now();
  const kept = Object.fromEntries(Object.entries(used).filter(([, exp]) => exp > now));
  await tokens.put('used-confirm-tokens', { ...kept, [claims.nonce]: claims.exp });
  return undefined;
}
