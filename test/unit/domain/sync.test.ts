/**
 * Sync in the domain: after the records are lost, it imports the newest version of each key and leaves alone what
 * must not come back (older versions, bytes queued for deletion, an upload's object before its completion is
 * recorded, sealed copies, what does not fit the quota). Every test ends on exact accounting.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type SyncInput, syncPages } from '../../../src/jobs/sync.ts';
import { createUpload } from '../../../src/objects/multipart.ts';
import { deleteObject } from '../../../src/objects/delete-object.ts';
import { expectSameBytes, locations, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const MASTER_KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));

function input(w: DomainWorld, more: Partial<SyncInput> = {}): SyncInput {
  return { backend: 'b1', bucket: BUCKET, prefix: '', dryRun: false, adoptForeign: false, minAgeMs: 0, after: undefined, deadline: w.clock.now() + 3_600_000, ...more };
}

/** What restoring an older database backup leaves: no object records, no queue, no bytes counted. */
async function wipe(w: DomainWorld, keepQueue = false): Promise<void> {
  await w.database.query('delete from object_parts');
  await w.database.query('delete from object_locations');
  await w.database.query('delete from objects');
  if (!keepQueue) await w.database.query('delete from cleanup_queue');
  await w.database.query(`update backend_quotas set bytes_used = 0${keepQueue ? '' : ', orphan_bytes = 0'}`);
}

describe('sync', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('imports the newest version of each key; an older leftover stays out', async () => {
    const w = await domainServices({ backends: ['b1'] });
    await put(w, 'k', bytesOf(100, 1));
    // The overwrite's delete of the old bytes fails: they stay on the backend.
    w.backend('b1').failNext('deleteObject');
    // Versions order writes by their millisecond.
    w.clock.advance(1000);
    await put(w, 'k', bytesOf(200, 2));
    await put(w, 'other', bytesOf(50, 3));
    await w.settle();
    expect(w.backend('b1').objects.size).toBe(3);
    await wipe(w);
    const report = await syncPages(w.services, input(w));
    expect(report).toMatchObject({ imported: 2, failed: 0, skipped: { 'older-version': 1 }, next: null });
    expectSameBytes(await read(w, 'k'), bytesOf(200, 2));
    expectSameBytes(await read(w, 'other'), bytesOf(50, 3));
    expect(await w.accountingDrift()).toEqual([]);
    // Again: nothing new.
    expect(await syncPages(w.services, input(w))).toMatchObject({ imported: 0, skipped: { recorded: 2, 'already-recorded': 1 } });
  });

  it('leaves bytes queued for deletion and an upload\'s object before its completion is recorded', async () => {
    const w = await domainServices({ backends: ['b1'] });
    await put(w, 'gone', bytesOf(100, 1));
    w.backend('b1').failNext('deleteObject');
    await deleteObject(w.services, BUCKET, 'gone');
    await w.settle();
    const uploadId = await createUpload(w.services, { bucket: BUCKET, key: 'big', contentType: 'x', metadata: {}, headers: {} });
    const [row] = await w.database.query<{ physical_key: string }>('select physical_key from multipart_uploads where upload_id = $1', [uploadId]);
    // The backend assembled the object; the record of the completion is not committed yet.
    await w.backend('b1').putObject(row!.physical_key, new Blob([bytesOf(10, 4)]).stream(), 10);
    const report = await syncPages(w.services, input(w));
    expect(report).toMatchObject({ imported: 0, skipped: { 'delete-queued': 1, 'upload-in-flight': 1 } });
    expect(await locations(w, 'gone')).toEqual([]);
    expect(await w.accountingDrift()).toEqual([]);
  });

  it('skips sealed copies (their data key was only in the database) and what the quota cannot take', async () => {
    const sealed = await domainServices({ backends: ['b1'], document: { encryption: { enabled: true, master_key: MASTER_KEY } } });
    await put(sealed, 'secret', bytesOf(100, 1));
    await wipe(sealed);
    expect(await syncPages(sealed.services, input(sealed))).toMatchObject({ imported: 0, skipped: { sealed: 1 } });
    expect(await sealed.accountingDrift()).toEqual([]);

    const full = await domainServices({ backends: [{ name: 'b1', quotaBytes: 250 }] });
    await put(full, 'a', bytesOf(100, 1));
    await put(full, 'b', bytesOf(100, 2));
    await wipe(full);
    await full.database.query("update backend_quotas set bytes_limit = 150 where backend_name = 'b1'");
    expect(await syncPages(full.services, input(full))).toMatchObject({ imported: 1, skipped: { 'no-room': 1 } });
    expect(await full.accountingDrift()).toEqual([]);
  });

  it('a dry run imports nothing and counts what it would', async () => {
    const w = await domainServices({ backends: ['b1'] });
    await put(w, 'a', bytesOf(10, 1));
    await wipe(w);
    expect(await syncPages(w.services, input(w, { dryRun: true }))).toMatchObject({ imported: 1, bytes: 10 });
    expect(await locations(w, 'a')).toEqual([]);
    expect(await w.accountingDrift()).toEqual([]);
  });
});
