/**
 * encrypt-existing, decrypt-existing and rotate-encryption-key as the queue runs them (the test takes the
 * messages the jobs send and delivers them, twice where it says so): every copy ends sealed, plaintext or
 * re-wrapped, reads stay byte-exact, the replaced bytes are gone from the backends, the accounting is exact, and
 * a client's write during the job wins.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type BatchMessage, bulkJobWatch, runBatch, startBulkJob } from '../../../src/jobs/bulk-jobs.ts';
import { runReplication } from '../../../src/jobs/replication.ts';
import { MIN_PART_BYTES, completeUpload, createUpload, requireUpload, uploadPart } from '../../../src/objects/multipart.ts';
import { findJob } from '../../../src/store/bulk-jobs.ts';
import { findObject } from '../../../src/store/objects.ts';
import type { BulkJobKind } from '../../../src/store/schema.ts';
import { expectConsistent, expectSameBytes, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bodyOf, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const KEY_A = btoa(String.fromCharCode(...bytesOf(32, 11)));
const KEY_B = btoa(String.fromCharCode(...bytesOf(32, 12)));

function world(options: { encryption?: Record<string, unknown>; after?: DomainWorld; factor?: number }): Promise<DomainWorld> {
  return domainServices({
    backends: ['b1', 'b2'],
    replicationFactor: options.factor ?? 1,
    document: { encryption: { chunk_size: 4096, ...options.encryption } },
    ...(options.after ? { after: options.after } : {}),
  });
}

/** Delivers queued messages until none is left; `twice` delivers each batch message a second time. */
async function runQueue(w: DomainWorld, options: { twice?: boolean } = {}): Promise<number> {
  let delivered = 0;
  for (let message = w.queued.shift(); message; message = w.queued.shift()) {
    delivered++;
    await runBatch(w.services, message as BatchMessage);
    if (options.twice) await runBatch(w.services, message as BatchMessage);
  }
  await w.settle();
  return delivered;
}

async function start(w: DomainWorld, kind: BulkJobKind, oldKeyId?: string) {
  const started = await startBulkJob(w.services, kind, { oldKeyId });
  if (!started.ok) throw new Error(`${started.reason}: ${started.error}`);
  return started.job.id;
}

/** Writes plaintext objects: small ones, an empty one, and a two-part multipart upload. */
async function fill(w: DomainWorld): Promise<Map<string, Uint8Array>> {
  const written = new Map<string, Uint8Array>();
  for (let i = 0; i < 7; i++) {
    const bytes = bytesOf(1000 + i * 3000, i + 1);
    await put(w, `obj/${i}`, bytes);
    written.set(`obj/${i}`, bytes);
  }
  await put(w, 'obj/empty', new Uint8Array(0));
  written.set('obj/empty', new Uint8Array(0));
  const parts = [bytesOf(MIN_PART_BYTES, 21), bytesOf(5000, 22)];
  const uploadId = await createUpload(w.services, { bucket: BUCKET, key: 'obj/multipart', contentType: 'application/octet-stream', metadata: {}, headers: {} });
  const upload = await requireUpload(w.services, uploadId, BUCKET, 'obj/multipart');
  const sent = [];
  for (const [i, bytes] of parts.entries()) sent.push(await uploadPart(w.services, upload, { partNumber: i + 1, source: bodyOf(bytes), size: bytes.byteLength, expect: {} }));
  await completeUpload(w.services, upload, sent.map((p, i) => ({ partNumber: i + 1, etag: p.etag })), undefined);
  const whole = new Uint8Array(MIN_PART_BYTES + 5000);
  whole.set(parts[0]!, 0);
  whole.set(parts[1]!, MIN_PART_BYTES);
  written.set('obj/multipart', whole);
  return written;
}

function putSmall(w: DomainWorld, key: string, seed: number) {
  return put(w, key, bytesOf(10 + (seed % 50), seed));
}

async function expectReads(w: DomainWorld, written: Map<string, Uint8Array>): Promise<void> {
  for (const [key, bytes] of written) expectSameBytes(await read(w, key), bytes);
}

async function keyIds(w: DomainWorld): Promise<(string | null)[]> {
  const rows = await w.database.query<{ key_id: string | null }>("select encryption->>'keyId' as key_id from object_locations order by bucket, key, backend_name");
  return rows.map((r) => r.key_id);
}

describe('bulk encryption jobs', { timeout: DOMAIN_TEST_TIMEOUT_MS * 2 }, () => {
  it('encrypt-existing seals every copy (replicas too), even with every batch delivered twice; decrypt-existing undoes it', async () => {
    const plain = await world({ factor: 2 });
    const written = await fill(plain);
    await runReplication(plain.services, { force: true, trigger: 'test' });
    const copies = (await keyIds(plain)).length;
    expect(copies).toBe(2 * written.size);

    const sealed = await world({ encryption: { enabled: true, master_key: KEY_A }, after: plain, factor: 2 });
    const id = await start(sealed, 'encrypt-existing');
    await runQueue(sealed, { twice: true });
    const job = await findJob(sealed.db, id);
    expect(job).toMatchObject({ status: 'complete', total: copies, succeeded: copies, failed: 0, skipped: 0 });
    expect(new Set(await keyIds(sealed))).toEqual(new Set([expect.stringMatching(/^k-/)]));
    expect(sealed.events.get('encrypt_existing_objects:success')).toBe(copies);
    await expectReads(sealed, written);
    await expectConsistent(sealed);

    // Running it again finds nothing left to do.
    const again = await start(sealed, 'encrypt-existing');
    await runQueue(sealed);
    expect(await findJob(sealed.db, again)).toMatchObject({ status: 'complete', total: 0 });

    const id2 = await start(sealed, 'decrypt-existing');
    await runQueue(sealed);
    expect(await findJob(sealed.db, id2)).toMatchObject({ status: 'complete', total: copies, succeeded: copies, failed: 0 });
    expect(new Set(await keyIds(sealed))).toEqual(new Set([null]));
    for (const [key, bytes] of written) {
      const object = await findObject(sealed.db, BUCKET, key);
      for (const l of object!.locations) expectSameBytes(sealed.backend(l.backendName).objects.get(l.physicalKey)!, bytes);
    }
    await expectReads(sealed, written);
    await expectConsistent(sealed);
  });

  it('a client overwriting a key while the job runs wins, and the job reports it running until every batch is counted', async () => {
    const plain = await world({});
    const written = await fill(plain);
    const sealed = await world({ encryption: { enabled: true, master_key: KEY_A }, after: plain });
    const id = await start(sealed, 'encrypt-existing');
    // A second start while it runs reports the same job.
    const second = await startBulkJob(sealed.services, 'encrypt-existing');
    expect(second).toMatchObject({ ok: true, created: false, job: { id } });
    // Starting recorded and sent the job's one batch; the client writes before it is delivered.
    expect(sealed.queued).toHaveLength(1);
    expect(await findJob(sealed.db, id)).toMatchObject({ status: 'running', produced: true, batchesSent: 1 });
    const fresh = bytesOf(777, 99);
    await put(sealed, 'obj/3', fresh);
    written.set('obj/3', fresh);
    await runQueue(sealed);
    const job = await findJob(sealed.db, id);
    expect(job).toMatchObject({ status: 'complete', failed: 0 });
    expect(job!.succeeded + job!.skipped).toBe(written.size);
    expect(job!.skipped).toBe(1);
    await expectReads(sealed, written);
    await expectConsistent(sealed);
  });

  it('rotation re-wraps data keys under the new primary without touching data; config-0 names the new key and says what to run', async () => {
    const before = await world({ encryption: { enabled: true, master_key: KEY_A } });
    const written = await fill(before);
    const stored = [...before.backend('b1').objects.entries()];
    const rotated = await world({ encryption: { enabled: true, master_key: KEY_B, previous_keys: [KEY_A] }, after: before });
    const refused = await startBulkJob(rotated.services, 'rotate-encryption-key', { oldKeyId: 'config-0' });
    expect(refused).toMatchObject({ ok: false, reason: 'is-primary' });
    expect(refused.ok ? '' : refused.error).toMatch(/config-0 is k-[0-9a-f]{16}, the current primary key.*config-1 \(k-[0-9a-f]{16}\) wraps 9 copies.*--old-key-id config-1/);
    expect(await startBulkJob(rotated.services, 'rotate-encryption-key', { oldKeyId: 'config-7' })).toMatchObject({ ok: false, reason: 'unknown-key' });

    const id = await start(rotated, 'rotate-encryption-key', 'config-1');
    await runQueue(rotated);
    expect(await findJob(rotated.db, id)).toMatchObject({ status: 'complete', total: 9, succeeded: 9, failed: 0 });
    const primary = (await rotated.services.storage.keys())![0]!.id;
    expect(new Set(await keyIds(rotated))).toEqual(new Set([primary]));
    // Metadata only: the stored bytes did not change.
    const after = rotated.backend('b1').objects;
    expect([...after.keys()]).toEqual(stored.map(([key]) => key));
    for (const [key, bytes] of stored) expectSameBytes(after.get(key)!, bytes);

    const only = await world({ encryption: { enabled: true, master_key: KEY_B }, after: rotated });
    await expectReads(only, written);
    await expectConsistent(only);
  });

  it('keeps a bounded backlog of batches, and sends the open ones again when their messages are lost', async () => {
    const plain = await world({});
    for (let i = 0; i < 650; i++) await putSmall(plain, `many/${String(i).padStart(4, '0')}`, i);
    const sealed = await world({ encryption: { enabled: true, master_key: KEY_A }, after: plain });
    const id = await start(sealed, 'encrypt-existing');
    // Four batches of 100 in flight, not all seven at once.
    expect(sealed.queued).toHaveLength(4);
    expect(await findJob(sealed.db, id)).toMatchObject({ batchesSent: 4, produced: false });
    // The messages are lost (a local queue across a restart); nothing happens until the job is stale.
    sealed.queued.length = 0;
    await bulkJobWatch(sealed.services);
    expect(sealed.queued).toHaveLength(0);
    await sealed.database.query("update bulk_jobs set updated_at = now() - interval '2 minutes'");
    await bulkJobWatch(sealed.services);
    expect((sealed.queued as BatchMessage[]).map((m) => m.batch)).toEqual([0, 1, 2, 3]);
    await runQueue(sealed);
    expect(await findJob(sealed.db, id)).toMatchObject({ status: 'complete', total: 650, succeeded: 650, failed: 0, skipped: 0, batchesSent: 7, batchesDone: 7 });
    await expectConsistent(sealed);
  });

  it('queues a rewrite\'s new bytes for deletion before writing them, so a crash before the swap leaves nothing untracked', async () => {
    const plain = await world({});
    await put(plain, 'one', bytesOf(5000, 31));
    const sealed = await world({ encryption: { enabled: true, master_key: KEY_A }, after: plain });
    await start(sealed, 'encrypt-existing');
    const held = sealed.backend('b1').hold('putObject');
    const running = runQueue(sealed);
    await held.reached;
    // The moment a crash would leave behind: the new bytes are at the backend, not recorded, but queued (due in an
    // hour, longer than a queue invocation may run) with their bytes counted as orphaned.
    const queued = await sealed.database.query<{ reason: string; due_in_minutes: number }>(
      "select reason, extract(epoch from next_retry - now()) / 60 as due_in_minutes from cleanup_queue",
    );
    expect(queued.map((q) => q.reason)).toEqual(['rewrite_pending']);
    expect(Number(queued[0]!.due_in_minutes)).toBeGreaterThan(59);
    expect(await sealed.accountingDrift()).toEqual([]);
    held.release();
    await running;
    expect(await sealed.database.query('select * from cleanup_queue')).toEqual([]);
    await expectConsistent(sealed);
  });

  it('refuses what cannot work: encrypt-existing without encryption, decrypt-existing without keys', async () => {
    const w = await world({});
    expect(await startBulkJob(w.services, 'encrypt-existing')).toMatchObject({ ok: false, reason: 'not-enabled' });
    expect(await startBulkJob(w.services, 'decrypt-existing')).toMatchObject({ ok: false, reason: 'no-keys' });
    expect(await startBulkJob(w.services, 'rotate-encryption-key')).toMatchObject({ ok: false, reason: 'no-keys' });
    expect(w.queued).toEqual([]);
  });
});
