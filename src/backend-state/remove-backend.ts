/**
 * remove-backend, run inside the backend's Durable Object so it cannot interleave with a drain starting: drop the
 * database records (objects stay on the backend's storage), or with a purge also delete every tracked object
 * there. A purge needs a confirmation token the same object issued (purge-token.ts).
 */
import { mapBounded } from '../util/bounded.ts';
import { describeError } from '../backends/client.ts';
import type { RemoveResult } from '../backends/backend-state-rpc.ts';
import { type OpenServices, type Services, withServices } from '../services/services.ts';
import { recordedOn, removeBackendRecords } from '../store/backend-states.ts';
import { drainCandidates, uploadsOn } from '../store/drain.ts';
import { type DurableState, UNCONFIGURED, configured, markRemoved, readState } from './drain-control.ts';
import { CONFIRM_TTL_MS, type TokenStore, issueToken, useToken } from './purge-token.ts';

const PURGE_PAGE = 500;
const PURGE_CONCURRENCY = 4;

export async function removeBackend(
  durable: DurableState,
  tokens: TokenStore,
  backend: string,
  request: { purge: boolean; confirm?: string | undefined },
  open: OpenServices,
): Promise<RemoveResult> {
  const state = await readState(durable);
  if (state.mode === 'draining') {
    return { ok: false, reason: 'conflict', error: `backend ${backend} is draining; cancel the drain first (admin drain-cancel ${backend})` };
  }
  return withServices(open, (services) => remove(services, durable, tokens, backend, request, state.mode), () => UNCONFIGURED);
}

async function remove(
  services: Services,
  durable: DurableState,
  tokens: TokenStore,
  backend: string,
  request: { purge: boolean; confirm?: string | undefined },
  mode: string,
): Promise<RemoveResult> {
  const log = services.log.with({ backend, component: 'remove-backend' });
  const db = services.db();
  const alreadyRemoved = `backend ${backend} was already removed: its records are gone, so nothing is left to remove or purge (objects still on its storage are outside the orchestrator's records)`;
  if (request.purge && request.confirm === undefined) {
    if (mode === 'removed') return { ok: false, reason: 'conflict', error: alreadyRemoved };
    const left = await recordedOn(db, backend);
    return {
      ok: true,
      body: {
        status: 'confirmation required',
        backend,
        object_count: left.objects,
        total_bytes: left.bytes,
        confirm_token: await issueToken(tokens, backend, services.now()),
        expires_in: CONFIRM_TTL_MS / 1000,
      },
    };
  }
  if (request.purge) {
    const refusal = await useToken(tokens, backend, request.confirm ?? '', services.now());
    if (refusal) return { ok: false, reason: 'bad-token', error: refusal };
    if (mode === 'removed') return { ok: false, reason: 'conflict', error: alreadyRemoved };
    if (!configured(services, backend)) {
      return { ok: false, reason: 'conflict', error: `backend ${backend} is not in the configuration, so its objects cannot be reached to purge them` };
    }
    const purged = await purgeObjects(services, backend);
    log.warn('backend purged: objects deleted from its storage', purged);
    const removed = await removeBackendRecords(db, backend);
    await markRemoved(durable, backend);
    announceRemoved(services, backend, { purged: true, records_dropped: removed.objects, bytes_dropped: removed.bytes, objects_deleted: purged.deleted, delete_failures: purged.failed });
    return { ok: true, body: { status: 'backend purged', backend, objects_deleted: purged.deleted, delete_failures: purged.failed, records_dropped: removed.objects } };
  }
  if (mode === 'removed') return { ok: false, reason: 'conflict', error: alreadyRemoved };
  const removed = await removeBackendRecords(db, backend);
  await markRemoved(durable, backend);
  log.warn('backend removed: records dropped, objects left on its storage', { objects: removed.objects, bytes: removed.bytes });
  announceRemoved(services, backend, { purged: false, records_dropped: removed.objects, bytes_dropped: removed.bytes });
  return { ok: true, body: { status: 'backend removed', backend, records_dropped: removed.objects, bytes_dropped: removed.bytes } };
}

function announceRemoved(services: Services, backend: string, figures: Record<string, number | boolean>): void {
  services.notify.emit({ type: 'backend.removed', subject: backend, data: { backend, ...figures } });
}

/** Deletes every tracked copy and in-progress upload on the backend; failures are logged and counted, not fatal. */
async function purgeObjects(services: Services, backend: string): Promise<{ deleted: number; failed: number }> {
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

