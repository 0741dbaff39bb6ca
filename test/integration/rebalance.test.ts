/**
 * Rebalancing on real backends (two radosgw buckets, one s3rver) with the SDK writing meanwhile: `admin rebalance`
 * shows a plan and carries out passes under `spread` until the spread is within the threshold; a config push turns
 * on the cron under `pack`, three ticks at once are harmless, and packing converges. After each test every object
 * reads back as last written, each backend holds exactly the copies recorded on it, and the accounting is exact.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliFor } from '../support/cli.ts';
import { keyedBytes } from '../support/patterns.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'rebalance-test-admin-token';
const QUOTA = 1024 * 1024;
const THRESHOLD = 0.1;
let s: TestStack;
/** What each key should read back as: the last write's round and size. */
const written = new Map<string, { round: number; size: number }>();

const sizeOf = (i: number) => 4096 + ((i * 7919) % 16) * 1024;

async function write(key: string, round: number, size: number): Promise<void> {
  await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: keyedBytes(key, round, size) }));
  written.set(key, { round, size });
}

beforeAll(async () => {
  s = await startTestStack({
    name: 'rebalance',
    admin: { token: TOKEN },
    strategy: 'pack',
    backends: [
      { name: 'a', kind: 'radosgw', quotaBytes: QUOTA },
      { name: 'b', kind: 'radosgw', quotaBytes: QUOTA },
      { name: 'c', kind: 's3rver', quotaBytes: QUOTA },
    ],
    sections: { rebalance: { enabled: false, strategy: 'spread', threshold: THRESHOLD, batch_size: 200 } },
  });
  for (let i = 0; i < 60; i++) await write(`r/${String(i).padStart(2, '0')}`, 0, sizeOf(i));
});

afterAll(async () => {
  await s?.stop();
});

const cli = cliFor(() => s.endpoint, TOKEN);
const cron = () => fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());

async function utilization(): Promise<Record<string, number>> {
  const status = await cli('admin', 'status', '--json');
  const { backends } = JSON.parse(status.out) as { backends: { name: string; bytes_used: number; bytes_limit: number }[] };
  return Object.fromEntries(backends.map((b) => [b.name, b.bytes_used / b.bytes_limit]));
}

/** A client that overwrites and adds keys until told to stop (at most `rounds` writes). */
function clientWrites(rounds: number): { stop(): void; done: Promise<number> } {
  let stopped = false;
  const done = (async () => {
    let n = 0;
    for (; n < rounds && !stopped; n++) {
      const key = n % 3 === 0 ? `new/${n}` : `r/${String((n * 13) % 60).padStart(2, '0')}`;
      await write(key, (written.get(key)?.round ?? 0) + 1, 2048 + (n % 5) * 3000);
    }
    return n;
  })();
  return { stop: () => (stopped = true), done };
}

/** Every key reads back as last written; every backend holds exactly what is recorded on it; accounting exact. */
async function expectNothingLost(): Promise<void> {
  for (const [key, { round, size }] of written) {
    const got = await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
    const bytes = await got.Body!.transformToByteArray();
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(keyedBytes(key, round, size))), key).toBe(0);
  }
  // A delete that failed under load waits in the queue, due at once: the cron's cleanup runs it (never one due later).
  const queued = async () => (await s.query<{ n: number }>('select count(*)::int as n from cleanup_queue'))[0]?.n;
  for (let tick = 0; tick < 5 && (await queued()) !== 0; tick++) await cron();
  expect(await queued(), 'deletes left in the cleanup queue').toBe(0);
  for (const backend of ['a', 'b', 'c']) {
    const recorded = await s.query<{ physical_key: string }>('select physical_key from object_locations where backend_name = $1 order by 1', [backend]);
    expect((await s.backendKeys(backend)).sort(), `objects on ${backend}`).toEqual(recorded.map((r) => r.physical_key).sort());
  }
  await s.expectExactAccounting();
}

async function push(rebalance: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  return s.admin('POST', '/admin/api/config/versions', { yaml: stringify({ ...s.deployedConfig(), rebalance }) });
}

describe('rebalance', () => {
  it('refuses bad input with clear errors and changes nothing', async () => {
    const both = await cli('admin', 'rebalance', '--dry-run', '--execute');
    expect(both.code).toBe(2);
    expect(both.err).toContain('choose one: --dry-run shows the plan, --execute carries it out');
    const limit = await s.admin('POST', '/admin/api/rebalance?limit=0');
    expect(limit).toEqual({ status: 400, body: { error: 'limit must be a whole number from 1 to 10000 (copies moved in this pass)' } });
    const strategy = await push({ strategy: 'random', threshold: 1.5 });
    expect(strategy.status).toBe(400);
    expect(strategy.body.problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'rebalance.strategy' }),
        { path: 'rebalance.threshold', message: 'must be a number between 0 and 1 (exclusive), got 1.5' },
      ]),
    );
    expect((await utilization()).a).toBeGreaterThan(0.5);
  });

  it('spread: the plan, then passes with a client writing meanwhile, until the spread is within the threshold', async () => {
    const plan = await cli('admin', 'rebalance', '--dry-run');
    expect(plan.code).toBe(0);
    expect(plan.out).toMatch(/^strategy spread: imbalance \d+\.\d%, threshold 10\.0%/);
    expect(plan.out).toMatch(/would move \d+ copies/);
    const planned = JSON.parse((await cli('admin', 'rebalance', '--json')).out) as { moves: number; backends: { name: string; moving_out: { copies: number } }[] };
    expect(planned.moves).toBeGreaterThan(10);
    expect(planned.backends.find((b) => b.name === 'a')?.moving_out.copies).toBe(planned.moves);

    const client = clientWrites(40);
    const first = await cli('admin', 'rebalance', '--execute');
    expect(first.code, first.out + first.err).toBe(0);
    expect(first.out).toMatch(/moved \d+ copies/);
    await client.done;
    // Writes went to a (routing is pack) while it moved: later passes even that out too.
    for (let pass = 0; pass < 10; pass++) {
      const run = await cli('admin', 'rebalance', '--execute', '--json');
      expect(run.code, run.out).toBe(0);
      if ((JSON.parse(run.out) as { status: string }).status === 'skipped') break;
    }
    const after = Object.values(await utilization());
    expect(Math.max(...after) - Math.min(...after)).toBeLessThan(THRESHOLD);
    await expectNothingLost();

    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(Number(/^s3o_rebalance_objects_moved_total\{strategy="spread",status="success"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(10);
    expect(Number(/^s3o_rebalance_bytes_moved_total\{strategy="spread"\} (\d+)$/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/^s3o_rebalance_runs_total\{strategy="spread",status="success"\} \d+$/m);
    expect(metrics).toMatch(/^s3o_rebalance_skipped_total\{reason="threshold"\} \d+$/m);
    expect(metrics).toMatch(/^s3o_rebalance_pending 0$/m);
  });

  it('pack from the cron after a config push: three ticks at once are harmless, and it converges with writes going on', async () => {
    const pushed = await push({ enabled: true, strategy: 'pack', threshold: THRESHOLD, batch_size: 200, interval: '1h' });
    expect(pushed.status).toBe(201);
    expect(pushed.body.changes).toContainEqual(expect.objectContaining({ field: 'rebalance.strategy', effect: 'reloadable' }));
    const client = clientWrites(30);
    await Promise.all([cron(), cron(), cron()]);
    await client.done;
    // Further ticks continue while the last pass left moves undone; a skipped pass ends it.
    for (let tick = 0; tick < 10; tick++) {
      const plan = JSON.parse((await cli('admin', 'rebalance', '--json')).out) as { skip?: string };
      if (plan.skip === 'threshold' || plan.skip === 'no-moves') break;
      await cron();
    }
    const plan = JSON.parse((await cli('admin', 'rebalance', '--json')).out) as { imbalance: number; skip?: string };
    expect(plan.skip === 'threshold' || plan.skip === 'no-moves', JSON.stringify(plan)).toBe(true);
    // Everything fits on the first backend: the later ones are left within the threshold of empty.
    const packed = await utilization();
    expect(packed.b).toBeLessThan(THRESHOLD);
    expect(packed.c).toBeLessThan(THRESHOLD);
    const runs = await s.query<{ counters: Record<string, number> }>("select counters from job_leases where name = 'rebalance'");
    expect(runs[0]?.counters['moved:pack/success']).toBeGreaterThan(0);
    await expectNothingLost();
  });
});
