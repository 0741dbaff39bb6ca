/**
 * Lifecycle expiration and the stale multipart GC in the domain: exactly the named bucket's keys under the prefix
 * and past the age go, through the normal delete path; an object written after it was found expired stays; a batch
 * that fails whole stops its rule; the per-rule cursor carries a rule across ticks; the lease keeps concurrent
 * ticks harmless; stale uploads are aborted with their backend parts. Each ends on the accounting invariant.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupQueueJob } from '../../../src/jobs/cleanup-queue.ts';
import { runLifecycle } from '../../../src/jobs/lifecycle.ts';
import { runMultipartGc } from '../../../src/jobs/multipart-gc.ts';
import { deleteObjectIfVersion } from '../../../src/objects/delete-object.ts';
import { createUpload, requireUpload, uploadPart } from '../../../src/objects/multipart.ts';
import { putObject } from '../../../src/objects/put-object.ts';
import { expiredObjectPage } from '../../../src/store/objects.ts';
import { expectConsistent } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bodyOf, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const DAY_MS = 24 * 60 * 60_000;
const OTHER = 'archive';

function lifecycleWorld(lifecycle: Record<string, unknown>, backends: readonly string[] = ['b1', 'b2']) {
  const credentials = (id: string) => [{ access_key_id: id, secret_access_key: `${id}-secret` }];
  return domainServices({
    backends,
    document: {
      buckets: [
        { name: BUCKET, credentials: credentials('photos-key') },
        { name: OTHER, credentials: credentials('archive-key') },
      ],
      lifecycle,
    },
  });
}

async function putIn(world: DomainWorld, bucket: string, key: string, seed = 1) {
  const bytes = bytesOf(100 + seed, seed);
  await putObject(world.services, { bucket, key, source: bodyOf(bytes), size: bytes.byteLength, contentType: 'application/octet-stream', metadata: {}, headers: {}, expect: {} });
}

/** Last-Modified `days` before the world's clock, as if the client had written it then. */
async function age(world: DomainWorld, bucket: string, key: string, days: number) {
  await world.database.query('update objects set created_at = $1 where bucket = $2 and key = $3', [new Date(world.clock.now() - days * DAY_MS), bucket, key]);
}

async function keysOf(world: DomainWorld, bucket: string): Promise<string[]> {
  const rows = await world.database.query<{ key: string }>('select key from objects where bucket = $1 order by key', [bucket]);
  return rows.map((r) => r.key);
}

async function counters(world: DomainWorld, job: string): Promise<Record<string, number>> {
  const [row] = await world.database.query<{ counters: Record<string, number> }>('select counters from job_leases where name = $1', [job]);
  return row?.counters ?? {};
}

describe('lifecycle expiration', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('deletes exactly the expired keys of the named bucket under the prefix, from the backends too', async () => {
    const world = await lifecycleWorld({
      rules: [
        { bucket: BUCKET, prefix: 'tmp/', expiration_days: 7 },
        // LIKE's wildcards in a prefix are plain characters.
        { bucket: OTHER, prefix: 'a_%', expiration_days: 1 },
      ],
    });
    const old = { [BUCKET]: ['tmp/a', 'tmp/sub/b', 'tmp', 'tmpx', 'keep/tmp/c', 'Tmp/d'], [OTHER]: ['tmp/a', 'a_%1', 'ab%1', 'a_x'] };
    let seed = 1;
    for (const [bucket, keys] of Object.entries(old)) {
      for (const key of keys) {
        await putIn(world, bucket, key, seed++);
        await age(world, bucket, key, 8);
      }
    }
    // Written 6 days ago: not yet expired under the 7-day rule.
    await putIn(world, BUCKET, 'tmp/young', seed++);
    await age(world, BUCKET, 'tmp/young', 6);
    // Written just now.
    await putIn(world, BUCKET, 'tmp/new', seed);

    const run = await runLifecycle(world.services, { trigger: 'test' });
    expect(run).toMatchObject({ status: 'ran', result: { status: 'success', deleted: 3, failed: 0, more: false } });
    expect(await keysOf(world, BUCKET)).toEqual(['Tmp/d', 'keep/tmp/c', 'tmp', 'tmp/new', 'tmp/young', 'tmpx']);
    expect(await keysOf(world, OTHER)).toEqual(['a_x', 'ab%1', 'tmp/a']);
    await expectConsistent(world);
    expect(await counters(world, 'lifecycle')).toMatchObject({ deleted: 3, failed: 0, runs_success: 1 });

    // Not due again within the hour; due an hour later, when tmp/young is still young.
    world.clock.advance(60_000);
    expect(await runLifecycle(world.services, { trigger: 'test' })).toEqual({ status: 'skipped', reason: 'not due yet' });
    world.clock.advance(DAY_MS);
    const later = await runLifecycle(world.services, { trigger: 'test' });
    expect(later).toMatchObject({ status: 'ran', result: { deleted: 1 } });
    expect(await keysOf(world, BUCKET)).not.toContain('tmp/young');
    await expectConsistent(world);
  });

  it('an empty prefix expires the whole bucket, and no rules means no run', async () => {
    const none = await lifecycleWorld({});
    expect(await runLifecycle(none.services, { trigger: 'test' })).toEqual({ status: 'skipped', reason: 'no lifecycle rules' });

    const world = await lifecycleWorld({ rules: [{ bucket: OTHER, expiration_days: 30 }] });
    for (const key of ['x', 'y/z']) {
      await putIn(world, OTHER, key);
      await age(world, OTHER, key, 31);
      await putIn(world, BUCKET, key);
      await age(world, BUCKET, key, 31);
    }
    expect(await runLifecycle(world.services, { trigger: 'test' })).toMatchObject({ status: 'ran', result: { deleted: 2 } });
    expect(await keysOf(world, OTHER)).toEqual([]);
    expect(await keysOf(world, BUCKET)).toEqual(['x', 'y/z']);
    await expectConsistent(world);
  });

  it('never deletes an object a client wrote after it was found expired', async () => {
    const world = await lifecycleWorld({ rules: [{ bucket: BUCKET, prefix: '', expiration_days: 1 }] });
    await putIn(world, BUCKET, 'k', 1);
    await age(world, BUCKET, 'k', 2);
    const [found] = await expiredObjectPage(world.db, { bucket: BUCKET, prefix: '', writtenBefore: new Date(world.clock.now() - DAY_MS), after: '', limit: 10 });
    expect(found?.key).toBe('k');
    // The client overwrites the key between the job's selection and its delete.
    await putIn(world, BUCKET, 'k', 2);
    expect(await deleteObjectIfVersion(world.services, BUCKET, 'k', found?.version ?? '')).toBe('changed');
    expect(await keysOf(world, BUCKET)).toEqual(['k']);
    // Deleted by the client meanwhile: nothing to do either.
    expect(await deleteObjectIfVersion(world.services, BUCKET, 'gone', 'v')).toBe('changed');
    // The overwrite restarted the clock: a run finds nothing to expire.
    expect(await runLifecycle(world.services, { trigger: 'test' })).toMatchObject({ status: 'ran', result: { deleted: 0, failed: 0 } });
    expect(await keysOf(world, BUCKET)).toEqual(['k']);
    await expectConsistent(world);
  });

  it('moves and replicas do not restart the clock', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2, document: { lifecycle: { rules: [{ bucket: BUCKET, expiration_days: 3 }] } } });
    await putIn(world, BUCKET, 'k');
    await age(world, BUCKET, 'k', 4);
    const { runReplication } = await import('../../../src/jobs/replication.ts');
    expect(await runReplication(world.services, { force: true, trigger: 'test' })).toMatchObject({ status: 'ok', copiesCreated: 1 });
    expect(await runLifecycle(world.services, { trigger: 'test' })).toMatchObject({ status: 'ran', result: { deleted: 1 } });
    expect(world.backend('b1').objects.size + world.backend('b2').objects.size).toBe(0);
    await expectConsistent(world);
  });

  it('a batch that fails whole stops its rule until the next hourly run; the objects go once the backend is back', async () => {
    const world = await lifecycleWorld({ rules: [{ bucket: BUCKET, prefix: 'old/', expiration_days: 1 }], batch_size: 2 }, ['b1']);
    for (const key of ['old/1', 'old/2', 'old/3']) {
      await putIn(world, BUCKET, key);
      await age(world, BUCKET, key, 2);
    }
    world.backend('b1').down();
    world.health.setState('b1', { state: 'open', consecutiveFailures: 5, unhealthySince: world.clock.now(), retryAt: world.clock.now() + 60_000 });
    const failed = await runLifecycle(world.services, { trigger: 'test' });
    expect(failed).toMatchObject({ status: 'ran', result: { status: 'error', deleted: 0, failed: 2, more: false } });
    expect(await keysOf(world, BUCKET)).toHaveLength(3);
    // Nothing went to the cleanup queue: the objects wait with their copies.
    expect(await world.database.query('select id from cleanup_queue')).toEqual([]);
    // The next tick does not spin on the failing rule.
    world.clock.advance(60_000);
    expect(await runLifecycle(world.services, { trigger: 'test' })).toEqual({ status: 'skipped', reason: 'not due yet' });

    world.backend('b1').up();
    world.health.setState('b1', { state: 'closed', consecutiveFailures: 0 });
    world.clock.advance(60 * 60_000);
    // The rule moved past its failed batch: old/3 first, then it starts over.
    expect(await runLifecycle(world.services, { trigger: 'test' })).toMatchObject({ status: 'ran', result: { status: 'success', deleted: 1, more: false } });
    world.clock.advance(60 * 60_000);
    expect(await runLifecycle(world.services, { trigger: 'test' })).toMatchObject({ status: 'ran', result: { deleted: 2 } });
    expect(await keysOf(world, BUCKET)).toEqual([]);
    expect(await counters(world, 'lifecycle')).toMatchObject({ deleted: 3, failed: 2, runs_error: 1, runs_success: 2 });
    await expectConsistent(world);
  });

  it('a backend delete that fails is queued and the object still expires; a batch failing in part is a partial run', async () => {
    const world = await lifecycleWorld({ rules: [{ bucket: BUCKET, expiration_days: 1 }] });
    await putIn(world, BUCKET, 'k');
    await age(world, BUCKET, 'k', 2);
    world.backend('b1').failNext('deleteObject', 1, 503);
    expect(await runLifecycle(world.services, { trigger: 'test' })).toMatchObject({ status: 'ran', result: { status: 'success', deleted: 1 } });
    expect(await world.database.query('select reason from cleanup_queue')).toEqual([{ reason: 'delete_failed' }]);
    // The queue's retry (due by the database's clock) removes the bytes.
    await cleanupQueueJob(world.services, { scheduledTime: Date.now() + 10 * 60_000 });
    expect(await world.database.query('select id from cleanup_queue')).toEqual([]);
    await expectConsistent(world);

    const open = { state: 'open' as const, consecutiveFailures: 5, unhealthySince: world.clock.now(), retryAt: world.clock.now() + 60_000 };
    // Placement skips a backend whose breaker is open: a lands on b1, b on b2.
    const closed = { state: 'closed' as const, consecutiveFailures: 0 };
    world.health.setState('b2', open);
    await putIn(world, BUCKET, 'a');
    world.health.setState('b2', closed);
    world.health.setState('b1', open);
    await putIn(world, BUCKET, 'b');
    world.health.setState('b1', closed);
    await age(world, BUCKET, 'a', 2);
    await age(world, BUCKET, 'b', 2);
    world.health.setState('b2', open);
    const partial = await runLifecycle(world.services, { trigger: 'test', force: true });
    expect(partial).toMatchObject({ status: 'ran', result: { status: 'partial', deleted: 1, failed: 1 } });
    expect(await keysOf(world, BUCKET)).toEqual(['b']);
    expect(await counters(world, 'lifecycle')).toMatchObject({ runs_success: 1, runs_partial: 1 });
    await expectConsistent(world);
  });

  it('a rule with more than a batch continues on the next ticks, and stops when done', async () => {
    const world = await lifecycleWorld({ rules: [{ bucket: BUCKET, prefix: 'p/', expiration_days: 1 }], batch_size: 2 });
    const keys = ['p/1', 'p/2', 'p/3', 'p/4', 'p/5'];
    for (const key of keys) {
      await putIn(world, BUCKET, key);
      await age(world, BUCKET, key, 2);
    }
    const deletedPerTick: number[] = [];
    for (let tick = 0; tick < 4; tick++) {
      const run = await runLifecycle(world.services, { trigger: 'test' });
      deletedPerTick.push(run.status === 'ran' ? run.result.deleted : -1);
      world.clock.advance(60_000);
    }
    // 2 + 2 + 1, then not due.
    expect(deletedPerTick).toEqual([2, 2, 1, -1]);
    expect(await keysOf(world, BUCKET)).toEqual([]);
    await expectConsistent(world);
  });

  it('three runs at once: one runs, the others skip, every object deleted once', async () => {
    const world = await lifecycleWorld({ rules: [{ bucket: BUCKET, expiration_days: 1 }] });
    for (const key of ['a', 'b', 'c', 'd']) {
      await putIn(world, BUCKET, key);
      await age(world, BUCKET, key, 2);
    }
    const runs = await Promise.all([1, 2, 3].map(() => runLifecycle(world.services, { trigger: 'test' })));
    expect(runs.filter((r) => r.status === 'ran')).toHaveLength(1);
    expect(runs.filter((r) => r.status === 'skipped')).toHaveLength(2);
    expect(await keysOf(world, BUCKET)).toEqual([]);
    expect(await counters(world, 'lifecycle')).toMatchObject({ deleted: 4, runs_success: 1 });
    await expectConsistent(world);
  });
});

describe('stale multipart GC', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  async function startUpload(world: DomainWorld, key: string) {
    const uploadId = await createUpload(world.services, { bucket: BUCKET, key, contentType: 'application/octet-stream', metadata: {}, headers: {} });
    const upload = await requireUpload(world.services, uploadId, BUCKET, key);
    const bytes = bytesOf(1000);
    await uploadPart(world.services, upload, { partNumber: 1, source: bodyOf(bytes), size: bytes.byteLength, expect: {} });
    return uploadId;
  }

  async function startedAgo(world: DomainWorld, uploadId: string, ms: number) {
    await world.database.query('update multipart_uploads set created_at = $1 where upload_id = $2', [new Date(world.clock.now() - ms), uploadId]);
  }

  it('aborts uploads older than the timeout with their backend parts, and leaves younger ones', async () => {
    const world = await lifecycleWorld({}, ['b1']);
    world.services.config.cleanupQueue.multipartStaleTimeoutMs = 2 * 60 * 60_000;
    const stale = await startUpload(world, 'stale');
    const young = await startUpload(world, 'young');
    await startedAgo(world, stale, 3 * 60 * 60_000);
    await startedAgo(world, young, 60 * 60_000);
    expect(world.backend('b1').uploads.size).toBe(2);

    const runs = await Promise.all([1, 2, 3].map(() => runMultipartGc(world.services, { trigger: 'test' })));
    expect(runs.filter((r) => r.status === 'ran')).toEqual([{ status: 'ran', result: expect.objectContaining({ aborted: 1, failed: 0, more: false }) }]);
    const left = await world.database.query<{ upload_id: string }>('select upload_id from multipart_uploads');
    expect(left.map((r) => r.upload_id)).toEqual([young]);
    expect([...world.backend('b1').uploads.values()].map((u) => u.physicalKey)).toHaveLength(1);
    expect(await counters(world, 'multipart-gc')).toMatchObject({ aborted: 1, runs_success: 1 });
    expect(world.logs.some((l) => l.msg === 'stale multipart upload aborted' && l.fields.upload_id === stale)).toBe(true);
    expect(await world.accountingDrift()).toEqual([]);
  });

  it('a backend that cannot abort (405) does not hold the GC up: the upload goes, the cleanup queue settles it', async () => {
    const world = await lifecycleWorld({}, ['b1']);
    const stale = await startUpload(world, 'stale');
    await startedAgo(world, stale, 25 * 60 * 60_000);
    world.backend('b1').failNext('abortMultipartUpload', 2, 405);
    expect(await runMultipartGc(world.services, { trigger: 'test' })).toMatchObject({ status: 'ran', result: { aborted: 1, failed: 0 } });
    expect(await world.database.query('select upload_id from multipart_uploads')).toEqual([]);
    expect(await world.database.query('select reason from cleanup_queue')).toEqual([{ reason: 'abort_failed' }]);
    await cleanupQueueJob(world.services, { scheduledTime: Date.now() + 10 * 60_000 });
    expect(await world.database.query('select id from cleanup_queue')).toEqual([]);
    expect(await world.accountingDrift()).toEqual([]);
    // Nothing stale is left: the next run, an hour later, aborts nothing.
    world.clock.advance(60 * 60_000);
    expect(await runMultipartGc(world.services, { trigger: 'test' })).toMatchObject({ status: 'ran', result: { aborted: 0 } });
  });
});
