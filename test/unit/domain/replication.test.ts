/**
 * The replicator in the domain: objects reach the configured factor on distinct backends, failures are retried by
 * the next run, replicas go only where there is room, and the accounting stays exact.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runReplication } from '../../../src/jobs/replication.ts';
import { expectConsistent, expectSameBytes, locations, put, read } from '../support/domain-calls.ts';
import { DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const KEYS = Array.from({ length: 8 }, (_, i) => `doc-${i}`);

describe('replication', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('brings every object to the factor on distinct backends, with exact accounting', async () => {
    const world = await domainServices({ backends: ['b1', 'b2', 'b3'], replicationFactor: 2, routingStrategy: 'spread' });
    for (const [i, key] of KEYS.entries()) await put(world, key, bytesOf(500 + i, i + 1));
    const run = await runReplication(world.services, { force: true, trigger: 'test' });
    expect(run).toMatchObject({ status: 'ok', factor: 2, copiesCreated: KEYS.length, failures: 0 });
    for (const [i, key] of KEYS.entries()) {
      const where = await locations(world, key);
      expect(where).toHaveLength(2);
      expect(new Set(where).size).toBe(2);
      // Each copy holds the object's bytes.
      world.backend(where[0] ?? '').down();
      expectSameBytes(await read(world, key), bytesOf(500 + i, i + 1));
      world.backend(where[0] ?? '').up();
      world.health.setState(where[0] ?? '', { state: 'closed', consecutiveFailures: 0 });
    }
    await expectConsistent(world);

    // Nothing left to do: a second run creates nothing.
    const again = await runReplication(world.services, { force: true, trigger: 'test' });
    expect(again).toMatchObject({ status: 'ok', copiesCreated: 0, copiesRemoved: 0 });
  });

  it('a failed copy leaves nothing behind and is made by the next run', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'], replicationFactor: 2 });
    await put(world, 'k', bytesOf(300));
    world.backend('b2').failNext('putObject');
    const first = await runReplication(world.services, { force: true, trigger: 'test' });
    expect(first).toMatchObject({ status: 'ok', copiesCreated: 0 });
    expect(first.status === 'ok' && first.failures).toBeGreaterThan(0);
    expect(await locations(world, 'k')).toEqual(['b1']);
    await expectConsistent(world);

    const second = await runReplication(world.services, { force: true, trigger: 'test' });
    expect(second).toMatchObject({ status: 'ok', copiesCreated: 1, failures: 0 });
    expect((await locations(world, 'k')).sort()).toEqual(['b1', 'b2']);
    expect(await world.accountingDrift()).toEqual([]);
  });

  it('an overwrite of a replicated object frees every old copy, the one on its new backend and the other', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1000 }, { name: 'b2', quotaBytes: 1000 }], replicationFactor: 2 });
    await put(world, 'k', bytesOf(300));
    await runReplication(world.services, { force: true, trigger: 'test' });
    expect((await locations(world, 'k')).sort()).toEqual(['b1', 'b2']);
    // The commit's one statement replaces the row on the new copy's backend in place and deletes the other.
    await put(world, 'k', bytesOf(200, 2));
    const where = await locations(world, 'k');
    expect(where).toHaveLength(1);
    expectSameBytes(await read(world, 'k'), bytesOf(200, 2));
    expect(world.backend('b1').objects.size + world.backend('b2').objects.size).toBe(1);
    expect(await world.accounting()).toMatchObject([
      { backend: 'b1', bytesUsed: where[0] === 'b1' ? 200 : 0, orphanBytes: 0 },
      { backend: 'b2', bytesUsed: where[0] === 'b2' ? 200 : 0, orphanBytes: 0 },
    ]);
    await expectConsistent(world);
  });

  it('places replicas only where there is room, and says so when there is none', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1000 }, { name: 'b2', quotaBytes: 100 }], replicationFactor: 2 });
    await put(world, 'small', bytesOf(80));
    await put(world, 'large', bytesOf(500, 2));
    const run = await runReplication(world.services, { force: true, trigger: 'test' });
    expect(run).toMatchObject({ status: 'ok', copiesCreated: 1, failures: 1 });
    expect((await locations(world, 'small')).sort()).toEqual(['b1', 'b2']);
    expect(await locations(world, 'large')).toEqual(['b1']);
    expect(await world.accountingDrift()).toEqual([]);
  });
});
