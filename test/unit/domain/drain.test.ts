/**
 * Draining a backend in the domain: every copy leaves it (moved, or dropped where another copy exists), uploads on
 * it are aborted, failures are retried on the next pass, and the accounting stays exact throughout.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deleteObject } from '../../../src/objects/delete-object.ts';
import { createUpload } from '../../../src/objects/multipart.ts';
import { runReplication } from '../../../src/jobs/replication.ts';
import { backendModes } from '../../../src/store/backend-states.ts';
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
});
