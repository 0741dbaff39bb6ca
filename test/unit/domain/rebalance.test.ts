/**
 * Rebalancing in the domain: passes under both strategies converge, moves never land where they must not, a
 * client's write in the middle of a move wins, a crash at any point leaves the cleanup queue able to tidy up, and
 * passes started at once do not overlap. Every test ends on exact accounting and "the backends hold exactly what is
 * recorded".
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupQueueJob } from '../../../src/jobs/cleanup-queue.ts';
import { type RebalanceRun, planPass, rebalanceJob, runRebalance } from '../../../src/jobs/rebalance.ts';
import { runReplication } from '../../../src/jobs/replication.ts';
import { findObject } from '../../../src/store/objects.ts';
import { expectConsistent, expectSameBytes, locations, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const QUOTA = 100_000;
const three = [
  { name: 'b1', quotaBytes: QUOTA },
  { name: 'b2', quotaBytes: QUOTA },
  { name: 'b3', quotaBytes: QUOTA },
];

function world(strategy: 'pack' | 'spread', options: { routing?: 'pack' | 'spread'; factor?: number; batch?: number; threshold?: number } = {}) {
  return domainServices({
    backends: three,
    routingStrategy: options.routing ?? 'pack',
    ...(options.factor ? { replicationFactor: options.factor } : {}),
    document: { rebalance: { enabled: true, strategy, batch_size: options.batch ?? 100, threshold: options.threshold ?? 0.1 } },
  });
}

async function used(w: DomainWorld): Promise<Record<string, number>> {
  return Object.fromEntries((await w.accounting()).map((a) => [a.backend, a.bytesUsed / QUOTA]));
}

/** Passes until one is skipped (balanced), at most `max`. */
async function untilBalanced(w: DomainWorld, max = 10): Promise<RebalanceRun[]> {
  const runs: RebalanceRun[] = [];
  for (let i = 0; i < max; i++) {
    const run = await runRebalance(w.services, { trigger: 'admin' });
    runs.push(run);
    if (run.status === 'skipped') return runs;
  }
  throw new Error(`not balanced after ${max} passes: ${JSON.stringify(runs.map((r) => r.status))}`);
}

const sizes = Array.from({ length: 30 }, (_, i) => 1000 + i * 150);
const keyOf = (i: number) => `k${String(i).padStart(2, '0')}`;

async function fill(w: DomainWorld): Promise<void> {
  for (const [i, size] of sizes.entries()) await put(w, keyOf(i), bytesOf(size, i + 1));
}

async function expectAllReadable(w: DomainWorld): Promise<void> {
  for (const [i, size] of sizes.entries()) expectSameBytes(await read(w, keyOf(i)), bytesOf(size, i + 1));
}

describe('rebalance', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('spread evens utilization within the threshold, smallest copies first, every object still byte-exact', async () => {
    const w = await world('spread');
    await fill(w);
    expect((await used(w)).b1).toBeGreaterThan(0.5);
    const plan = await planPass(w.services);
    expect(plan.imbalance).toBeGreaterThan(0.5);
    // Smallest first: the first planned moves are the smallest objects.
    expect(plan.moves.slice(0, 3).map((m) => m.copy.key)).toEqual([keyOf(0), keyOf(1), keyOf(2)]);
    const runs = await untilBalanced(w);
    expect(runs.at(-1)).toMatchObject({ status: 'skipped' });
    const after = Object.values(await used(w));
    expect(Math.max(...after) - Math.min(...after)).toBeLessThan(0.1);
    await expectAllReadable(w);
    await expectConsistent(w);
  });

  it('pack fills backends in configuration order', async () => {
    const w = await world('pack', { routing: 'spread' });
    await fill(w);
    const before = await used(w);
    expect(before.b3).toBeGreaterThan(0);
    await untilBalanced(w);
    const after = await used(w);
    const total = sizes.reduce((a, b) => a + b, 0);
    // Everything fits on b1 (at most one object's size short of the packed layout).
    expect(after.b1).toBeGreaterThan(Math.min(1, total / QUOTA) - 2500 / QUOTA);
    expect(after.b3).toBe(0);
    await expectAllReadable(w);
    await expectConsistent(w);
  });

  it('never moves onto a draining, failing or over-usage-limit backend, and replicas stay on distinct backends', async () => {
    const w = await world('spread', { factor: 2 });
    await fill(w);
    await runReplication(w.services, { force: true, trigger: 'test' });
    // b3 is failing: it neither gives nor takes.
    w.health.setState('b3', { state: 'open', consecutiveFailures: 5, unhealthySince: w.clock.now(), retryAt: w.clock.now() + 3_600_000 });
    const plan = await planPass(w.services);
    expect(plan.moves.every((m) => m.to !== 'b3' && m.from !== 'b3')).toBe(true);
    for (const m of plan.moves) expect(m.copy.otherBackends).not.toContain(m.to);
    // b2 starts draining as well: nothing is left that may both give and take.
    await w.database.query("insert into backend_states (backend_name, mode) values ('b2', 'draining')");
    expect(await planPass(w.services)).toMatchObject({ skip: 'too-few-backends', moves: [] });
    await w.database.query("delete from backend_states where backend_name = 'b2'");
    await runRebalance(w.services, { trigger: 'admin' });
    for (const [i] of sizes.entries()) {
      const where = await locations(w, keyOf(i));
      expect(new Set(where).size, `${keyOf(i)} on ${where.join(',')}`).toBe(where.length);
    }
    await expectConsistent(w);
  });

  it('never moves onto a backend over a monthly usage limit', async () => {
    const w = await domainServices({
      backends: three,
      document: {
        rebalance: { enabled: true, strategy: 'spread' },
        backends: three.map((b) => ({
          name: b.name,
          endpoint: `https://${b.name}.backend.invalid`,
          bucket: `${b.name}-bucket`,
          access_key_id: `${b.name}-key`,
          secret_access_key: `${b.name}-secret`,
          quota_bytes: QUOTA,
          ...(b.name === 'b2' ? { api_request_limit: 10 } : {}),
        })),
      },
    });
    await fill(w);
    w.health.setUsage('b2', { period: new Date(w.clock.now()).toISOString().slice(0, 7), apiRequests: 10, egressBytes: 0, ingressBytes: 0 });
    const plan = await planPass(w.services);
    expect(plan.moves.length).toBeGreaterThan(0);
    expect(plan.moves.every((m) => m.to === 'b3')).toBe(true);
    await expectConsistent(w);
  });

  it('a client overwrite during a move wins; the moved bytes are removed', async () => {
    const w = await world('spread', { batch: 1 });
    await fill(w);
    const [first] = (await planPass(w.services)).moves;
    expect(first).toBeDefined();
    const held = w.backend(first!.to).hold('putObject');
    const pass = runRebalance(w.services, { trigger: 'admin' });
    await held.reached;
    await put(w, first!.copy.key, bytesOf(777, 99));
    held.release();
    expect(await pass).toMatchObject({ status: 'ok', moved: 0, skipped: 1 });
    expectSameBytes(await read(w, first!.copy.key), bytesOf(777, 99));
    await w.settle();
    await expectConsistent(w);
  });

  it('a copy whose bytes a client overwrite deleted before they were read is skipped, not failed', async () => {
    const w = await world('spread', { batch: 1 });
    await fill(w);
    const [first] = (await planPass(w.services)).moves;
    const held = w.backend(first!.from).hold('getObject');
    const pass = runRebalance(w.services, { trigger: 'admin' });
    await held.reached;
    await put(w, first!.copy.key, bytesOf(555, 98));
    held.release();
    expect(await pass).toMatchObject({ status: 'ok', moved: 0, failed: 0, skipped: 1 });
    expectSameBytes(await read(w, first!.copy.key), bytesOf(555, 98));
    await w.settle();
    await expectConsistent(w);
  });

  it('a crash after the swap leaves the source bytes queued; the cleanup queue deletes them, never a live copy', async () => {
    const w = await world('spread', { batch: 1 });
    await fill(w);
    const [move] = (await planPass(w.services)).moves;
    // The source delete after the swap hangs: as far as the database knows, this is a crash right after the commit.
    const held = w.backend(move!.from).hold('deleteObjects');
    const pass = runRebalance(w.services, { trigger: 'admin' });
    await held.reached;
    const queued = await w.database.query<{ backend_name: string; reason: string }>('select backend_name, reason from cleanup_queue order by id');
    expect(queued).toEqual([{ backend_name: move!.from, reason: 'rebalance_source_delete' }]);
    expect(await locations(w, move!.copy.key)).toEqual([move!.to]);
    // An hour later the queue runs: the source bytes go, the moved copy stays.
    await cleanupQueueJob(w.services, { scheduledTime: w.clock.now() + 2 * 3_600_000 });
    held.release();
    await pass;
    expect(w.backend(move!.from).objects.has(move!.copy.physicalKey)).toBe(false);
    expect(w.backend(move!.to).objects.has(move!.copy.physicalKey)).toBe(true);
    expect(await w.database.query('select id from cleanup_queue')).toEqual([]);
    await expectConsistent(w);
  });

  it('a crash during the copy: the queue removes the partial target and keeps the live source', async () => {
    const w = await world('spread', { batch: 1 });
    await fill(w);
    const [move] = (await planPass(w.services)).moves;
    const held = w.backend(move!.to).hold('putObject');
    const pass = runRebalance(w.services, { trigger: 'admin' });
    await held.reached;
    expect((await w.database.query<{ reason: string }>('select reason from cleanup_queue order by id')).map((r) => r.reason)).toEqual(['rebalance_source_delete', 'rebalance_pending']);
    await cleanupQueueJob(w.services, { scheduledTime: w.clock.now() + 2 * 3_600_000 });
    // The source is live: its item is dropped without deleting it.
    expect(w.backend(move!.from).objects.has(move!.copy.physicalKey)).toBe(true);
    held.release();
    await pass;
    expect(await locations(w, move!.copy.key)).toHaveLength(1);
    await w.settle();
    await expectConsistent(w);
  });

  it('passes started at once do not overlap; the others say who holds the lease', async () => {
    const w = await world('spread');
    await fill(w);
    const runs = await Promise.all([1, 2, 3].map(() => runRebalance(w.services, { trigger: 'admin' })));
    expect(runs.filter((r) => r.status !== 'skipped')).toHaveLength(1);
    for (const r of runs.filter((r) => r.status === 'skipped')) expect(r).toMatchObject({ reason: expect.stringContaining('another rebalance pass') });
    await expectConsistent(w);
  });

  it('the cron runs a pass only when enabled and due; the batch size bounds a pass and the next tick continues', async () => {
    const w = await world('spread', { batch: 3 });
    await fill(w);
    await rebalanceJob(w.services, { scheduledTime: w.clock.now() });
    const moved = async () => (await w.database.query<{ n: string }>("select coalesce((counters->>'moved:spread/success')::int, 0) as n from job_leases where name = 'rebalance'"))[0]?.n;
    expect(Number(await moved())).toBe(3);
    // Work left over: the next tick runs at once.
    w.clock.advance(60_000);
    await rebalanceJob(w.services, { scheduledTime: w.clock.now() });
    expect(Number(await moved()), JSON.stringify(w.logs.filter((l) => l.msg.includes('rebalance')))).toBe(6);
    const object = await findObject(w.db, BUCKET, keyOf(0));
    expect(object?.locations).toHaveLength(1);
    await expectConsistent(w);
  });
});
