/**
 * Draining a backend in the domain: every copy leaves it (moved, or dropped where another copy exists), uploads on
 * it are aborted, failures are retried on the next pass, and the accounting stays exact throughout.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deleteObject } from '../../../src/objects/delete-object.ts';
import { createUpload } from '../../../src/objects/multipart.ts';
import { runReplication } from '../../../src/jobs/replication.ts';
import { backendModes } from '../../../src/store/backend-states.ts';
import { enqueueCleanup, queueAheadMany } from '../../../src/store/cleanup.ts';
import { drainOwner } from '../../../src/backend-state/drain-step.ts';
import { expectConsistent, expectSameBytes, locations, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const KEYS = Array.from({ length: 12 }, (_, i) => `photo-${String(i).padStart(2, '0')}.jpg`);

describe('drain', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('moves every object off the backend; reads still answer and the accounting stays exact', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1_000_000 }, { name: 'b2', quotaBytes: 1_000_000 }, { name: 'b3', quotaBytes: 1_000_000 }] });
    for (const [i, key] of KEYS.entries()) await put(world, key, bytesOf(1000 + i * 100, i + 1));
    const total = KEYS.reduce((n, _, i) => n + 1000 + i * 100, 0);
    expect(await world.accounting()).toMatchObject([{ backend: 'b1', bytesUsed: total }, { backend: 'b2', bytesUsed: 0 }, { backend: 'b3', bytesUsed: 0 }]);
    // An upload in progress on the backend is aborted by the drain.
    await createUpload(world.services, { bucket: BUCKET, key: 'unfinished', contentType: 'x', metadata: {}, headers: {} });

    const { outcome, progress } = await world.drain('b1');
    expect(outcome.kind).toBe('done');
    expect(progress).toMatchObject({ objectsMoved: KEYS.length, bytesMoved: total, copiesDropped: 0 });
    expect((await backendModes(world.db)).get('b1')).toBe('drained');
    expect(world.backend('b1').objects.size).toBe(0);
    expect(world.backend('b1').uploads.size).toBe(0);
    for (const [i, key] of KEYS.entries()) {
      expect(await locations(world, key)).not.toContain('b1');
      expectSameBytes(await read(world, key), bytesOf(1000 + i * 100, i + 1));
    }
    // One batch, placed together: its copies are spread over both other backends.
    expect(world.backend('b2').objects.size).toBeGreaterThan(0);
    expect(world.backend('b3').objects.size).toBeGreaterThan(0);
    // Drained: its quota row is gone; what it held is spread over the others.
    const after = await world.accounting();
    expect(after.map((a) => a.backend)).toEqual(['b2', 'b3']);
    expect(after.reduce((n, a) => n + a.bytesUsed, 0)).toBe(total);
    await expectConsistent(world);
  });

  it('drops the copy of an object that has another copy elsewhere instead of moving it', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2 });
    await put(world, 'k', bytesOf(500));
    await runReplication(world.services, { force: true, trigger: 'test' });
    expect((await locations(world, 'k')).sort()).toEqual(['b1', 'b2']);
    const { outcome, progress } = await world.drain('b1');
    expect(outcome.kind).toBe('done');
    expect(progress).toMatchObject({ objectsMoved: 1, copiesDropped: 1, bytesMoved: 0 });
    expect(await locations(world, 'k')).toEqual(['b2']);
    expect(world.backend('b1').objects.size).toBe(0);
    expect(await world.accountingDrift()).toEqual([]);
  });

  it('a copy that fails to move is retried on the next pass; the drain still finishes', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    for (const [i, key] of KEYS.slice(0, 4).entries()) await put(world, key, bytesOf(100, i + 1));
    world.backend('b2').failNext('putObject', 2);
    const { outcome, progress } = await world.drain('b1');
    expect(outcome.kind).toBe('done');
    expect(progress.failures).toBe(2);
    expect(progress.objectsMoved).toBe(4);
    for (const key of KEYS.slice(0, 4)) expect(await locations(world, key)).toEqual(['b2']);
    await expectConsistent(world);
  });

  it('waits for space when no other backend has room, and finishes once there is', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1000 }, { name: 'b2', quotaBytes: 150 }] });
    await put(world, 'a', bytesOf(100, 1));
    await put(world, 'b', bytesOf(100, 2));
    const first = await world.drain('b1', 3);
    expect(first.outcome.kind).not.toBe('done');
    expect(first.progress.waitingForSpace).toBe(true);
    expect((await locations(world, 'a')).concat(await locations(world, 'b')).sort()).toEqual(['b1', 'b2']);
    expect(await world.accountingDrift()).toEqual([]);

    // Room is made on b2 (the copy moved there is deleted); asked again, the drain finishes.
    await deleteObject(world.services, BUCKET, (await locations(world, 'a')).includes('b2') ? 'a' : 'b');
    const second = await world.drain('b1');
    expect(second.outcome.kind).toBe('done');
    expect(world.backend('b1').objects.size).toBe(0);
    await expectConsistent(world);
  });

  it('keeps copying while earlier moves are swapped; the sources go in one DeleteObjects call, and a hanging one holds up no copy', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    for (const [i, key] of KEYS.entries()) await put(world, key, bytesOf(200, i + 1));
    const held = world.backend('b1').hold('deleteObjects');
    const drained = world.drain('b1');
    await held.reached;
    // The swapped copies' sources are in the cleanup queue before their delete: a crash here leaves nothing behind.
    const queued = await world.database.query<{ reason: string }>("select reason from cleanup_queue where backend_name = 'b1'");
    expect(queued.map((q) => q.reason)).toContain('drain_source_delete');
    // Every copy is made while the sources' delete hangs.
    while (world.backend('b2').objects.size < KEYS.length) await new Promise((resolve) => setTimeout(resolve, 5));
    held.release();
    const { outcome, progress } = await drained;
    expect(outcome.kind).toBe('done');
    expect(progress).toMatchObject({ objectsMoved: KEYS.length, failures: 0 });
    expect(world.backend('b1').objects.size).toBe(0);
    // One backend request for all of them, not one per copy.
    expect(world.backend('b1').calls).toMatchObject({ deleteObjects: 1, deleteObject: 0 });
    expect(await world.database.query('select id from cleanup_queue')).toEqual([]);
    await expectConsistent(world);
  });

  it('deletes the sources one by one when the DeleteObjects call fails', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    for (const [i, key] of KEYS.entries()) await put(world, key, bytesOf(200, i + 1));
    world.backend('b1').failNext('deleteObjects', 1, 501);
    const { outcome, progress } = await world.drain('b1');
    expect(outcome.kind).toBe('done');
    expect(progress).toMatchObject({ objectsMoved: KEYS.length, failures: 0 });
    expect(world.backend('b1').objects.size).toBe(0);
    expect(world.backend('b1').calls).toMatchObject({ deleteObjects: 1, deleteObject: KEYS.length });
    expect(await world.database.query('select id from cleanup_queue')).toEqual([]);
    await expectConsistent(world);
  });

  it('a source whose key XML cannot carry (a control character) is deleted by its URL, the others together', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    const keys = ['plain', 'tab\there', 'cr\rhere'];
    for (const [i, key] of keys.entries()) await put(world, key, bytesOf(100, i + 1));
    const { outcome } = await world.drain('b1');
    expect(outcome.kind).toBe('done');
    expect(world.backend('b1').objects.size).toBe(0);
    expect(world.backend('b1').calls).toMatchObject({ deleteObjects: 1, deleteObject: 2 });
    for (const [i, key] of keys.entries()) expectSameBytes(await read(world, key), bytesOf(100, i + 1));
    await expectConsistent(world);
  });

  it('finished copies are swapped within a second even while a copy after them hangs', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    for (const [i, key] of KEYS.entries()) await put(world, key, bytesOf(200, i + 1));
    const b1 = world.backend('b1');
    let held: ReturnType<typeof b1.hold> | undefined;
    // The fourth copy's read of its source hangs; fewer than a swap's 16 finish around it.
    const drained = world.drain('b1', 20, {
      current: async () => {
        if (!held && b1.calls.getObject >= 3) held = b1.hold('getObject');
        return true;
      },
    });
    const onB2 = async () => (await Promise.all(KEYS.map((key) => locations(world, key)))).filter((l) => l.includes('b2')).length;
    const deadline = Date.now() + 10_000;
    while ((await onB2()) < KEYS.length - 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await onB2()).toBe(KEYS.length - 1);
    held?.release();
    const { outcome, progress } = await drained;
    expect(outcome.kind).toBe('done');
    expect(progress).toMatchObject({ objectsMoved: KEYS.length, failures: 0 });
    await expectConsistent(world);
  });

  it('a cancel mid-batch starts no more copies; the ones started finish and nothing stays queued', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    for (const [i, key] of KEYS.entries()) await put(world, key, bytesOf(200, i + 1));
    const b2 = world.backend('b2');
    // The drain is cancelled once three copies have reached b2.
    const { outcome } = await world.drain('b1', 20, { current: async () => b2.calls.putObject < 3 });
    expect(outcome.kind).toBe('stopped');
    const moved = (await Promise.all(KEYS.map((key) => locations(world, key)))).filter((l) => l.includes('b2')).length;
    expect(moved).toBeGreaterThanOrEqual(3);
    expect(moved).toBeLessThan(KEYS.length);
    expect(world.backend('b1').objects.size).toBe(KEYS.length - moved);
    expect(b2.objects.size).toBe(moved);
    expect(await world.database.query('select id from cleanup_queue')).toEqual([]);
    await expectConsistent(world);
  });

  it('stops starting copies at its time budget; the next step goes on from the first copy not started', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    for (const [i, key] of KEYS.entries()) await put(world, key, bytesOf(200, i + 1));
    // Each copy's PUT takes 20 s of the test's clock: a step (30 s budget) starts three copies at most.
    world.backend('b2').answerEtags(async () => {
      world.clock.advance(20_000);
      return '"any"';
    });
    const { outcome, progress, steps } = await world.drain('b1');
    expect(outcome.kind).toBe('done');
    expect(steps).toBeGreaterThanOrEqual(KEYS.length / 3);
    expect(progress).toMatchObject({ objectsMoved: KEYS.length, failures: 0 });
    for (const key of KEYS) expect(await locations(world, key)).toEqual(['b2']);
    expect(await world.database.query('select id from cleanup_queue')).toEqual([]);
    await expectConsistent(world);
  });

  it('does not place a copy where a delete of the same bytes is still queued (an earlier move off that backend)', async () => {
    const world = await domainServices({ backends: ['b1', 'b2', 'b3'] });
    await put(world, 'k', bytesOf(300));
    const [row] = await world.database.query<{ physical_key: string }>("select physical_key from object_locations where key = 'k'");
    await enqueueCleanup(world.db, [{ copy: { backendName: 'b2', physicalKey: row!.physical_key, storedSize: 300 }, reason: 'drain_stale_orphan', error: 'left by an earlier move' }]);
    // b2 would be the first choice (both are empty and unlimited; ties go in configuration order).
    const { outcome } = await world.drain('b1', 3);
    expect(outcome.kind).toBe('done');
    expect(await locations(world, 'k')).toEqual(['b3']);
    expectSameBytes(await read(world, 'k'), bytesOf(300));
  });

  it('settles the moves a crashed step left unfinished, so their only possible target takes the copy again', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    await put(world, 'k', bytesOf(300, 1));
    const [row] = await world.database.query<{ physical_key: string }>("select physical_key from object_locations where key = 'k'");
    const physicalKey = row!.physical_key;
    // What a step that died mid-copy leaves: both sides queued ahead in the drain's name, part of the bytes on b2.
    await queueAheadMany(
      world.db,
      [
        { copy: { backendName: 'b1', physicalKey, storedSize: 300 }, reason: 'drain_source_delete' },
        { copy: { backendName: 'b2', physicalKey, storedSize: 300 }, reason: 'drain_pending' },
      ],
      3_600_000,
      drainOwner('b1', 1),
    );
    await world.backend('b2').putObject(physicalKey, new Blob([bytesOf(100, 9)]).stream(), 100);
    const { outcome } = await world.drain('b1', 3);
    expect(outcome.kind).toBe('done');
    expect(await locations(world, 'k')).toEqual(['b2']);
    expectSameBytes(await read(world, 'k'), bytesOf(300, 1));
    expect(await world.database.query('select id from cleanup_queue')).toEqual([]);
    await expectConsistent(world);
  });
});
