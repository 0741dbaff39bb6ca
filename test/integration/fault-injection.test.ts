/**
 * Faults injected between the Worker and a backend by a loopback proxy the test controls (500s, dropped
 * connections, never answering): reads keep working from replicas, the backend's circuit breaker opens (and the fleet stops
 * calling it) and closes after a successful probe, writes go elsewhere meanwhile, copies on a long-unhealthy
 * backend are replaced and the extras removed once it is back, and a cron step run twice at once is harmless.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliFor } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'fault-test-admin-token-01234';
const OPEN_TIMEOUT_MS = 3000;
let s: TestStack;
const bodies = new Map<string, string>();

beforeAll(async () => {
  s = await startTestStack({
    name: 'faults',
    admin: { token: TOKEN },
    strategy: 'pack',
    sections: {
      server: { log_level: 'warn', backend_timeout: '1s' },
      replication: { factor: 2, unhealthy_threshold: '1s' },
      circuit_breaker: { failure_threshold: 3, open_timeout: `${OPEN_TIMEOUT_MS / 1000}s` },
    },
    backends: [
      { name: 'a', kind: 'radosgw', faultProxy: true },
      { name: 'b', kind: 'radosgw' },
      { name: 'c', kind: 's3rver' },
    ],
  });
  for (let i = 0; i < 20; i++) await put(`f/${String(i).padStart(2, '0')}`, `fault test object ${i} `.repeat(i + 3));
  // The start-up tick already ran (with nothing to do); replicate now rather than wait worker_interval.
  await s.admin('POST', '/admin/api/replicate');
});

afterAll(async () => {
  await s?.stop();
});

const cron = () => fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());

async function put(key: string, body: string): Promise<void> {
  await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: body }));
  bodies.set(key, body);
}

async function readAll(): Promise<void> {
  for (const [key, body] of bodies) {
    const got = await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
    expect(await got.Body?.transformToString(), key).toBe(body);
  }
}

async function backendState(name: string): Promise<string> {
  const status = (await s.admin('GET', '/admin/api/status')).body as { backends: { name: string; state: string }[] };
  return status.backends.find((b) => b.name === name)?.state ?? 'missing';
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const copies = () =>
  s.query<{ key: string; backends: string }>(
    "select key, string_agg(backend_name, ',' order by backend_name) as backends from object_locations where key like 'f/%' group by key order by key",
  );

describe('a backend that fails', () => {
  it('starts with two copies of everything, the first on the faulty backend', async () => {
    const rows = await copies();
    expect(rows).toHaveLength(20);
    for (const row of rows) expect(row.backends).toBe('a,b');
  });

  it('answering 500: reads fail over, the breaker opens and the fleet stops calling it; writes go elsewhere', async () => {
    s.fault('a').setMode('fail');
    await readAll();
    await until('the breaker to open', async () => (await backendState('a')) === 'circuit-open');
    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toContain('s3o_circuit_breaker_state{backend="a"} 1');
    // Open: reads go straight to the replica. Only probes reach the faulty backend: one each time open_timeout is
    // up (a failed probe opens it again), so a slow machine's longer pass may see more than one, never one per read.
    s.fault('a').resetCount();
    const started = Date.now();
    await readAll();
    const probeWindows = 1 + Math.floor((Date.now() - started) / OPEN_TIMEOUT_MS);
    expect(s.fault('a').requests()).toBeLessThanOrEqual(Math.min(probeWindows, bodies.size - 1));
    // pack would choose a; with its breaker open the write overflows to b.
    await put('f/written-while-open', 'overflow');
    expect(await s.query("select backend_name from object_locations where key = 'f/written-while-open'")).toEqual([{ backend_name: 'b' }]);
  });

  it('copies on a backend unhealthy for longer than unhealthy_threshold are replaced elsewhere', async () => {
    await new Promise((r) => setTimeout(r, 1200));
    await s.admin('POST', '/admin/api/replicate');
    for (const row of await copies()) {
      expect(row.backends.split(',').filter((b) => b !== 'a').length, row.key).toBeGreaterThanOrEqual(2);
      // The unhealthy backend's copies stay (nothing is deleted from a backend that cannot answer).
      if (row.key !== 'f/written-while-open') expect(row.backends, row.key).toBe('a,b,c');
    }
    await readAll();
  });

  it('dropped connections count as failures too, and reads keep working', async () => {
    s.fault('a').setMode('down');
    await readAll();
  });

  it('a slow backend still serves every read correctly (slow is not failing)', async () => {
    s.fault('a').setMode('slow', 300);
    await until('the breaker to close on a slow but working backend', async () => {
      await readAll();
      await cron();
      return (await backendState('a')) === 'active';
    });
    await readAll();
    expect(await backendState('a')).toBe('active');
  });

  it('a backend that takes connections and never answers: reads fail over after backend_timeout, and its breaker opens', async () => {
    s.fault('a').setMode('hold', 0, { methods: ['GET'] });
    const started = Date.now();
    const first = await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: 'f/00' }));
    expect(await first.Body?.transformToString()).toBe(bodies.get('f/00'));
    // One wait of backend_timeout (1 s) for a, then the copy on b.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await until('the breaker to open again', async () => {
      await readAll();
      return (await backendState('a')) === 'circuit-open';
    });
    const status = (await s.admin('GET', '/admin/api/status')).body as { backends: { name: string; last_error?: string }[] };
    expect(status.backends.find((b) => b.name === 'a')?.last_error).toContain('GET got no answer within 1s');
    const table = await cliFor(() => s.endpoint, TOKEN)('admin', 'status');
    expect(table.out).toMatch(/\na +.* circuit-open\n/);
    expect(table.out).toContain('a: last error: backend a: GET got no answer within 1s');
  });

  it('recovers: the probe succeeds, the breaker closes, and the extra copies go', async () => {
    s.fault('a').setMode('pass');
    // Reads of objects whose oldest copy is on a probe it once the open timeout has passed.
    await until('the breaker to close', async () => {
      // Reads probe it through copies it holds; the cron probes it anyway once the open timeout is up.
      await readAll();
      await cron();
      return (await backendState('a')) === 'active';
    });
    // Run twice at once: the lease lets one run; the other is skipped, and nothing is done twice.
    await Promise.all([cron(), cron(), s.admin('POST', '/admin/api/replicate')]);
    await s.admin('POST', '/admin/api/replicate');
    for (const row of await copies()) expect(row.backends.split(','), row.key).toHaveLength(2);
    await cron();
    expect(await s.query('select count(*)::int as n from cleanup_queue')).toEqual([{ n: 0 }]);
    await readAll();
    await s.expectExactAccounting();
    // And what is on each backend is exactly what the database records there: nothing leaked, nothing missing.
    for (const backend of ['a', 'b', 'c']) {
      const recorded = await s.query<{ physical_key: string }>('select physical_key from object_locations where backend_name = $1 order by physical_key', [backend]);
      expect((await s.backendKeys(backend)).sort(), backend).toEqual(recorded.map((r) => r.physical_key).sort());
    }
  });
});
