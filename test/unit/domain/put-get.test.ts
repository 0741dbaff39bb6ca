/**
 * PutObject and GetObject in the domain, on in-memory backends and PGlite: placement by quota, the race for a
 * backend's last room, exact accounting, and reads failing over to another copy.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runReplication } from '../../../src/jobs/replication.ts';
import { deleteObject } from '../../../src/objects/delete-object.ts';
import { Refusal } from '../../../src/objects/refusal.ts';
import { SPACE_CACHE_MS } from '../../../src/objects/placement.ts';
import { expectConsistent, expectSameBytes, locations, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';
import { md5Hex } from '../support/memory-backend.ts';
import { renderMetrics } from '../../../src/observe/metrics.ts';
import { samplesOf } from '../../support/prometheus-text.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

describe('putObject', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('stores the bytes on one backend under the S3 ETag and reads them back', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    const bytes = bytesOf(300_000);
    const { etag } = await put(world, 'a/b.txt', bytes);
    expect(etag).toBe(`"${await md5Hex(bytes)}"`);
    expect(await locations(world, 'a/b.txt')).toEqual(['b1']);
    expectSameBytes(await read(world, 'a/b.txt'), bytes);
    await expectConsistent(world);
  });

  it('a commit whose answer was lost keeps its copy: the record may have landed, so the bytes are never deleted', async () => {
    const world = await domainServices({ backends: ['b1'] });
    const db = world.services.db();
    // The commit (a batch: a transaction on this driver) lands, then its answer is lost on the way back.
    const lossy = new Proxy(db, {
      get(target, property, receiver) {
        if (property !== 'transaction') return Reflect.get(target, property, receiver) as unknown;
        return async (...args: Parameters<typeof db.transaction>) => {
          await target.transaction(...args);
          throw new Error('Error connecting to database: TypeError: Network connection lost.');
        };
      },
    });
    const bytes = bytesOf(5000, 3);
    await expect(put({ ...world, services: { ...world.services, db: () => lossy } }, 'lost', bytes)).rejects.toThrow(/connecting to database/);
    expectSameBytes(await read(world, 'lost'), bytes);
    await expectConsistent(world);
    expect(world.logs.some((l) => l.msg.startsWith("the outcome of a write's record is unknown"))).toBe(true);
  });

  it('packs backends in config order and overflows to the next when one is full, then refuses with no-room', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 250 }, { name: 'b2', quotaBytes: 250 }] });
    for (const key of ['k1', 'k2', 'k3', 'k4']) await put(world, key, bytesOf(100, key.length + Number(key[1])));
    expect([await locations(world, 'k1'), await locations(world, 'k2'), await locations(world, 'k3'), await locations(world, 'k4')]).toEqual([['b1'], ['b1'], ['b2'], ['b2']]);
    await expect(put(world, 'k5', bytesOf(100))).rejects.toMatchObject({ reason: 'no-room' });
    // A smaller object still fits the room left.
    await put(world, 'k6', bytesOf(50));
    expect(await locations(world, 'k6')).toEqual(['b1']);
    expect(await world.accounting()).toMatchObject([
      { backend: 'b1', bytesUsed: 250 },
      { backend: 'b2', bytesUsed: 200 },
    ]);
    await expectConsistent(world);
  });

  it('spreads to the least utilized backend', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1000 }, { name: 'b2', quotaBytes: 1000 }], routingStrategy: 'spread' });
    await put(world, 'one', bytesOf(100));
    await put(world, 'two', bytesOf(100, 2));
    expect([await locations(world, 'one'), await locations(world, 'two')]).toEqual([['b1'], ['b2']]);
  });

  it('an overwrite frees the replaced copy and its bytes; a delete frees the rest', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1000 }] });
    await put(world, 'k', bytesOf(400));
    await put(world, 'k', bytesOf(300, 2));
    expectSameBytes(await read(world, 'k'), bytesOf(300, 2));
    expect(world.backend('b1').objects.size).toBe(1);
    expect(await world.accounting()).toMatchObject([{ backend: 'b1', bytesUsed: 300 }]);
    await deleteObject(world.services, BUCKET, 'k');
    expect(world.backend('b1').objects.size).toBe(0);
    expect(await world.accounting()).toMatchObject([{ backend: 'b1', bytesUsed: 0, orphanBytes: 0 }]);
  });

  it('an upload that loses the race for the last room is moved to a backend with room, not refused', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 150 }, { name: 'b2', quotaBytes: 1000 }] });
    // The first upload's bytes reach b1, which holds its answer; meanwhile a second upload takes b1's last room.
    const held = world.backend('b1').hold('putObject');
    const first = put(world, 'first', bytesOf(100, 1));
    await held.reached;
    // Another writer, as another isolate would: it reads the backends' space afresh (this one counts its own upload).
    world.clock.advance(SPACE_CACHE_MS);
    await put(world, 'second', bytesOf(100, 2));
    held.release();
    const { etag } = await first;

    expect(etag).toBe(`"${await md5Hex(bytesOf(100, 1))}"`);
    expect(await locations(world, 'second')).toEqual(['b1']);
    expect(await locations(world, 'first')).toEqual(['b2']);
    expectSameBytes(await read(world, 'first'), bytesOf(100, 1));
    // Moved between backends by the orchestrator: the client did not send the bytes again.
    expect(world.backend('b2').calls.putObject).toBe(1);
    expect(world.logs.some((l) => l.msg.startsWith('upload moved to a backend with room'))).toBe(true);
    expect(await world.accounting()).toMatchObject([
      { backend: 'b1', bytesUsed: 100 },
      { backend: 'b2', bytesUsed: 100 },
    ]);
    // The one way a write moves on to another backend, counted as a write failover.
    const failover = 's3o_write_failover_total{operation="PutObject",failed_backend="b1",success_backend="b2"}';
    expect(samplesOf(renderMetrics(await world.services.metrics.read()), [failover])).toEqual({ [failover]: 1 });
    await expectConsistent(world);
  });

  it('when the race leaves no room anywhere, the client gets a retryable refusal and nothing lingers', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 150 }] });
    const held = world.backend('b1').hold('putObject');
    const first = put(world, 'first', bytesOf(100, 1));
    await held.reached;
    // Another writer, as another isolate would: it reads the backends' space afresh (this one counts its own upload).
    world.clock.advance(SPACE_CACHE_MS);
    await put(world, 'second', bytesOf(100, 2));
    held.release();
    await expect(first).rejects.toBeInstanceOf(Refusal);
    expect(await locations(world, 'first')).toEqual([]);
    await expectConsistent(world);
  });

  it('a backend that fails the upload leaves no record, no bytes and no reservation; the retry succeeds', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1000 }] });
    world.backend('b1').failNext('putObject');
    await expect(put(world, 'k', bytesOf(200))).rejects.toMatchObject({ reason: 'unavailable' });
    expect(await locations(world, 'k')).toEqual([]);
    expect(await world.accounting()).toMatchObject([{ backend: 'b1', bytesUsed: 0, orphanBytes: 0 }]);
    await put(world, 'k', bytesOf(200));
    expect(await locations(world, 'k')).toEqual(['b1']);
    expect(await world.accountingDrift()).toEqual([]);
  });

  it('writes go past a backend whose circuit breaker opened', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], document: { circuit_breaker: { failure_threshold: 2 } } });
    // Unreachable: the upload fails, and so does the delete of what it may have left (queued for cleanup).
    world.backend('b1').down();
    await expect(put(world, 'k1', bytesOf(10))).rejects.toMatchObject({ reason: 'unavailable' });
    expect(world.health.state('b1').state).toBe('open');
    await put(world, 'k2', bytesOf(10));
    expect(await locations(world, 'k2')).toEqual(['b2']);
    expect(await world.accounting()).toMatchObject([
      { backend: 'b1', bytesUsed: 0, orphanBytes: 10, queuedBytes: 10 },
      { backend: 'b2', bytesUsed: 10 },
    ]);
    expect(await world.accountingDrift()).toEqual([]);
  });
});

describe('openObject', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('fails over to another copy when the first backend is down, and skips it once its breaker opens', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2, document: { circuit_breaker: { failure_threshold: 2 } } });
    const bytes = bytesOf(200_000, 7);
    await put(world, 'k', bytes);
    // The second copy, made by the replicator.
    await runReplication(world.services, { force: true, trigger: 'test' });
    expect((await locations(world, 'k')).sort()).toEqual(['b1', 'b2']);

    world.backend('b1').down();
    expectSameBytes(await read(world, 'k'), bytes);
    expectSameBytes(await read(world, 'k'), bytes);
    expect(world.health.state('b1').state).toBe('open');
    const getsBefore = world.backend('b1').calls.getObject;
    expectSameBytes(await read(world, 'k'), bytes);
    // Open breaker: the read went straight to b2.
    expect(world.backend('b1').calls.getObject).toBe(getsBefore);
  });

  it('answers an internal error when every copy fails, and no-such-object for a missing key', async () => {
    const world = await domainServices({ backends: ['b1'] });
    await put(world, 'k', bytesOf(10));
    world.backend('b1').down();
    await expect(read(world, 'k')).rejects.toMatchObject({ reason: 'internal' });
    await expect(read(world, 'missing')).rejects.toMatchObject({ reason: 'no-such-object' });
  });
});
