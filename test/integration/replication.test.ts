/**
 * Replication as the seed enables it after initial setup: raise the factor by config push and the next cron tick
 * makes the copies; reads survive a lost copy; lowering the factor and over-replication --execute trims the
 * extras; runs hold a lease and continue across ticks when there is more work than one batch.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliFor } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'replication-test-admin-token';
let s: TestStack;
const bodies = new Map<string, string>();

beforeAll(async () => {
  s = await startTestStack({
    name: 'replication',
    admin: { token: TOKEN },
    strategy: 'pack',
    backends: [
      { name: 'a', kind: 'radosgw' },
      { name: 'b', kind: 'radosgw' },
      { name: 'c', kind: 's3rver' },
    ],
  });
  const client = s.client();
  for (let i = 0; i < 30; i++) {
    const key = `r/${String(i).padStart(2, '0')}`;
    bodies.set(key, `object ${i} `.repeat(i + 1));
    await client.send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: bodies.get(key) }));
  }
});

afterAll(async () => {
  await s?.stop();
});

const cron = () => fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());

const cli = cliFor(() => s.endpoint, TOKEN);

async function removedTotal(): Promise<number> {
  const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  return Number(/^s3o_over_replication_removed_total (\d+)$/m.exec(metrics)?.[1] ?? 'NaN');
}

async function push(replication: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  const doc = s.deployedConfig();
  return s.admin('POST', '/admin/api/config/versions', { yaml: stringify({ ...doc, replication }) });
}

const copyCounts = async () =>
  s.query<{ key: string; n: number; backends: string }>(
    "select key, count(*)::int as n, string_agg(backend_name, ',' order by backend_name) as backends from object_locations where key like 'r/%' group by key order by key",
  );

async function expectAllReadable(): Promise<void> {
  for (const [key, body] of bodies) {
    const got = await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
    expect(await got.Body?.transformToString(), key).toBe(body);
  }
}

describe('replication', () => {
  it('refuses a factor above the number of backends', async () => {
    const refused = await push({ factor: 4 });
    expect(refused.status).toBe(400);
    expect(refused.body.problems).toContainEqual({ path: 'replication.factor', message: 'must be at most the number of backends (3), got 4' });
  });

  it('raising the factor by config push makes the copies on the next tick, across ticks when it is more than a batch', async () => {
    const pushed = await push({ factor: 2, batch_size: 10 });
    expect(pushed.status).toBe(201);
    expect(pushed.body.changes).toContainEqual({ field: 'replication.factor', change: 'changed', effect: 'reloadable', from: '1', to: '2' });
    await cron();
    expect((await copyCounts()).filter((r) => r.n === 2)).toHaveLength(10);
    // More work was left: the next ticks continue without waiting for worker_interval.
    await cron();
    await cron();
    const counts = await copyCounts();
    expect(counts).toHaveLength(30);
    for (const row of counts) {
      expect(row.n, row.key).toBe(2);
      expect(row.backends.split(',')).toHaveLength(2);
    }
    await s.expectExactAccounting();
    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toContain('s3o_replication_pending 0');
    expect(metrics).toContain('s3o_replication_copies_created_total 30');
  });

  it('reads survive the loss of a copy', async () => {
    const [row] = await s.query<{ physical_key: string; backend_name: string }>(
      "select physical_key, backend_name from object_locations where key = 'r/07' order by created_at, backend_name limit 1",
    );
    const [other] = await s.query<{ backend_name: string }>("select backend_name from object_locations where key = 'r/07' and backend_name <> $1", [row?.backend_name]);
    const backend = s.backend(row?.backend_name ?? '');
    const saved = await (await backend.aws.fetch(`${backend.base}/${row?.physical_key}`)).arrayBuffer();
    const deleted = await backend.aws.fetch(`${backend.base}/${row?.physical_key}`, { method: 'DELETE' });
    expect(deleted.ok).toBe(true);
    expect(other?.backend_name).toBeDefined();
    await expectAllReadable();
    // Put the bytes back, so the copy the database records is whole again for the tests that follow.
    expect((await backend.aws.fetch(`${backend.base}/${row?.physical_key}`, { method: 'PUT', body: saved })).ok).toBe(true);
  });

  it('holds a lease: a run does not start while another holds it', async () => {
    await s.query("update job_leases set holder = 'someone-else', expires_at = now() + interval '1 minute' where name = 'replication'");
    const skipped = await cli('admin', 'replicate');
    // Who holds it and since when, so an operator can tell a live run from a dead one.
    expect(skipped.out).toMatch(/replication skipped: another replication run is in progress \(someone-else, since about \d{4}-.*; its lease expires at .* if it died\)/);
    await s.query("update job_leases set expires_at = now() - interval '1 second' where name = 'replication'");
    const ran = await cli('admin', 'replicate');
    expect(ran.code).toBe(0);
    expect(ran.out).toMatch(/^replication: \d+ copies created/);
  });

  it('lowering the factor leaves extras that over-replication --execute removes', async () => {
    expect((await push({ factor: 1 })).status).toBe(201);
    const pending = await cli('admin', 'over-replication');
    expect(pending.out).toMatch(/^30 objects have more than 1 copies \(remove the extras with --execute\)/);
    const before = await removedTotal();
    const executed = await cli('admin', 'over-replication', '--execute');
    expect(executed.code).toBe(0);
    expect(executed.out).toContain('removed 30 excess copies; 0 objects still have more than 1 copies');
    expect(await removedTotal()).toBe(before + 30);
    for (const row of await copyCounts()) expect(row.n, row.key).toBe(1);
    await expectAllReadable();
    await s.expectExactAccounting();
    const bad = await cli('admin', 'over-replication', '--execute', '--batch-size', '0');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('batch_size must be a whole number from 1 to 10000 (HTTP 400)');
  });

  it('a copy record on a backend no longer configured does not fail the run or keep its lease', async () => {
    // Factor 2 again; one object gains a third copy record on a backend the configuration no longer has.
    expect((await push({ factor: 2 })).status).toBe(201);
    expect((await cli('admin', 'replicate')).code).toBe(0);
    // What a backend taken out of the configuration without a drain leaves: its quota row and a copy record.
    await s.query("insert into backend_quotas (backend_name) values ('retired-ghost')");
    await s.query("insert into object_locations (bucket, key, backend_name, physical_key, stored_size) values ($1, 'r/00', 'retired-ghost', 'itest/r/00~ghost', 0)", [s.bucket]);
    const first = await cli('admin', 'replicate');
    expect(first.code, first.err).toBe(0);
    expect(first.out).toMatch(/^replication: \d+ copies created/);
    // The excess copy went, its delete on the unknown backend is queued, and the next run is not locked out.
    expect((await copyCounts()).find((r) => r.key === 'r/00')?.n).toBe(2);
    expect(await s.query("select reason from cleanup_queue where backend_name = 'retired-ghost'")).toEqual([{ reason: 'over_replication' }]);
    const second = await cli('admin', 'replicate');
    expect(second.out).toMatch(/^replication: \d+ copies created/);
    await s.query("delete from cleanup_queue where backend_name = 'retired-ghost'");
    await s.query("delete from backend_quotas where backend_name = 'retired-ghost'");
    expect((await push({ factor: 1 })).status).toBe(201);
    expect((await cli('admin', 'over-replication', '--execute')).code).toBe(0);
  });

  it('runs right after a deploy', async () => {
    // The deploy carries factor 2; the first tick after it (wrangler dev runs one at start, as Cloudflare does
    // after a deploy) replicates without waiting for worker_interval or an operator.
    await s.redeploy(stringify({ ...s.deployedConfig(), replication: { factor: 2 } }));
    for (const row of await copyCounts()) expect(row.n, row.key).toBe(2);
    await expectAllReadable();
    await s.expectExactAccounting();
  });
});
