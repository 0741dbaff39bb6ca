/**
 * Trace snapshots against the real Worker (wrangler dev, Postgres, radosgw, which checks every signature the Worker
 * sends): the Server-Timing answer to `X-S3O-Trace: 1`, signed or not, and none without it; `admin trace` through
 * the real CLI over a workload running while it waits; its --json; refusals of bad input by the CLI and the route.
 * Nothing here asserts a duration (a loaded machine must not fail it): phase names and counts only.
 */
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { cliFor, stackCliEnv, startCli } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'trace-test-admin-token-0123';
const BODY = new Uint8Array(2000).fill(3);
const PATIENCE = { timeout: 60_000, interval: 100 };
let stack: TestStack;
let aws: AwsClient;

beforeAll(async () => {
  stack = await startTestStack({ name: 'trace', admin: { token: TOKEN }, backends: [{ name: 'b1', kind: 'radosgw' }] });
  aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
});

afterAll(async () => {
  await stack?.stop();
});

const cli = cliFor(() => stack.endpoint, TOKEN);
const url = (key: string) => `${stack.endpoint}/${stack.bucket}/${key}`;

/** The metric names of a Server-Timing value (`auth;dur=1.2, metadata;dur=3` → auth, metadata). */
function timingNames(value: string | null): string[] {
  return (value ?? '').split(',').map((metric) => metric.trim().split(';')[0] ?? '').filter((name) => name !== '');
}

/** The database round trips a Server-Timing value reports (`db;desc="statements=3 connects=1"`). */
function databaseTrips(value: string | null): { statements: number; connects: number } {
  const match = /db;desc="statements=(\d+) connects=(\d+)"/.exec(value ?? '');
  return { statements: Number(match?.[1] ?? NaN), connects: Number(match?.[2] ?? NaN) };
}

async function put(key: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await aws.fetch(url(key), { method: 'PUT', body: BODY, headers });
  expect(response.status, await response.clone().text()).toBe(200);
  return response;
}

async function get(key: string, headers: Record<string, string> = {}): Promise<Response> {
  const response = await aws.fetch(url(key), { headers });
  expect(response.status).toBe(200);
  expect((await response.clone().arrayBuffer()).byteLength).toBe(BODY.byteLength);
  return response;
}

describe('Server-Timing', () => {
  it('names the phases of a PUT, an overwrite and a GET when asked for with X-S3O-Trace, and is absent otherwise', async () => {
    // Signed: the client signs every header it sends, this one too.
    const first = await put('st/a', { 'x-s3o-trace': '1' });
    const putPhases = timingNames(first.headers.get('server-timing'));
    // No `metadata` phase is required of a write: its placement read is skipped when this isolate read the
    // backends' space less than SPACE_CACHE_MS ago.
    expect(putPhases).toEqual(expect.arrayContaining(['auth', 'placement', 'backend', 'commit', 'total']));
    expect(putPhases).not.toContain('cleanup');
    expect(first.headers.get('server-timing')).toMatch(/^(\w+;dur=\d+(\.\d)?)(, \w+;dur=\d+(\.\d)?)*, db;desc="statements=\d+ connects=\d+"$/);
    const overwrite = await put('st/a', { 'x-s3o-trace': '1' });
    expect(timingNames(overwrite.headers.get('server-timing'))).toEqual(expect.arrayContaining(['auth', 'placement', 'backend', 'commit', 'cleanup', 'total']));

    // Unsigned: added after signing, so SigV4 (which covers only the signed headers) still holds.
    const signed = await aws.sign(url('st/a'));
    signed.headers.set('x-s3o-trace', '1');
    const read = await fetch(signed);
    expect(read.status).toBe(200);
    expect((await read.arrayBuffer()).byteLength).toBe(BODY.byteLength);
    expect(timingNames(read.headers.get('server-timing'))).toEqual(expect.arrayContaining(['auth', 'metadata', 'backend', 'total']));
    // A read is one statement over HTTP and opens no connection (issue 18: one round trip).
    expect(databaseTrips(read.headers.get('server-timing'))).toEqual({ statements: 1, connects: 0 });
    const head = await aws.fetch(url('st/a'), { method: 'HEAD', headers: { 'x-s3o-trace': '1' } });
    expect(head.status).toBe(200);
    expect(databaseTrips(head.headers.get('server-timing'))).toEqual({ statements: 1, connects: 0 });
    // A write is the placement read and one commit batch, and opens no connection (issue 18: two round trips); the
    // placement read is skipped when this isolate read the backends' space less than SPACE_CACHE_MS ago.
    for (const write of [first, overwrite]) {
      const trips = databaseTrips(write.headers.get('server-timing'));
      expect(trips.connects).toBe(0);
      expect([1, 2]).toContain(trips.statements);
    }

    // A listing with a delimiter over many common prefixes is one statement too: the walk jumps past each group.
    for (const dir of ['d1', 'd2', 'd3', 'd4', 'd5']) await put(`st/list/${dir}/object`);
    const listing = await aws.fetch(`${stack.endpoint}/${stack.bucket}?list-type=2&prefix=st/list/&delimiter=/`, { headers: { 'x-s3o-trace': '1' } });
    const listed = await listing.text();
    expect(listing.status, listed).toBe(200);
    expect(listed.match(/<CommonPrefixes>/g)).toHaveLength(5);
    expect(databaseTrips(listing.headers.get('server-timing'))).toEqual({ statements: 1, connects: 0 });

    expect((await put('st/b')).headers.get('server-timing')).toBeNull();
    expect((await get('st/b')).headers.get('server-timing')).toBeNull();
    expect((await get('st/b', { 'x-s3o-trace': '0' })).headers.get('server-timing')).toBeNull();
    // A refusal carries it too when asked for.
    const missing = await aws.fetch(url('st/none'), { headers: { 'x-s3o-trace': '1' } });
    expect(missing.status).toBe(404);
    await missing.text();
    expect(timingNames(missing.headers.get('server-timing'))).toEqual(expect.arrayContaining(['auth', 'metadata', 'total']));
  });
});

/** Starts `admin trace` with `args`, waits for its "tracing" line, runs `workload`, and answers what the CLI printed. */
async function traceDuring(args: string[], workload: () => Promise<void>): Promise<{ code: number | null; out: string; err: string }> {
  const child = startCli(['admin', 'trace', ...args], stackCliEnv(stack.endpoint, TOKEN));
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await vi.waitFor(() => expect(err).toMatch(/^tracing /), PATIENCE);
    await workload();
    return { code: await closed, out, err };
  } finally {
    child.kill();
  }
}

/** `count` PUTs (to count/2 keys, so half overwrite) and a GET after each, four at a time. */
async function mixedWorkload(prefix: string, count: number): Promise<void> {
  const lanes = 4;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = lane; i < count; i += lanes) {
        const key = `${prefix}/${i % (count / 2)}`;
        await (await put(key)).text();
        await (await get(key)).arrayBuffer();
      }
    }),
  );
}

describe('admin trace', () => {
  it('samples a workload running while it waits and prints every phase per operation and the slowest requests', async () => {
    const result = await traceDuring(['--duration', '3s', '--sample', '1'], () => mixedWorkload('w', 20));
    expect(result.code, result.err).toBe(0);
    expect(result.err).toMatch(/^tracing 3 s, sampling 100% of S3 requests fleet-wide/);
    const lines = result.out.split('\n');
    expect(lines[0]).toMatch(/^trace \w+: 3 s at sample 1, \d+ requests sampled, 0 dropped$/);
    const rows = lines.map((line) => line.split(/\s{2,}/));
    const phasesOf = (operation: string) => rows.filter((r) => r[0] === operation).map((r) => r[1]);
    expect(phasesOf('PutObject')).toEqual(expect.arrayContaining(['auth', 'metadata', 'placement', 'backend', 'commit', 'total']));
    expect(phasesOf('GetObject')).toEqual(expect.arrayContaining(['auth', 'metadata', 'backend', 'total']));
    for (const row of rows.filter((r) => r[0] === 'PutObject' || r[0] === 'GetObject')) {
      expect(row.slice(2)).toEqual([expect.stringMatching(/^\d+$/), ...Array.from({ length: 4 }, () => expect.stringMatching(/^\d+\.\d$/))]);
    }
    const slowestAt = lines.indexOf('slowest requests:');
    expect(slowestAt).toBeGreaterThan(0);
    expect(lines[slowestAt + 1]).toMatch(/^REQUEST ID\s+OPERATION\s+STATUS\s+TOTAL MS\s+PHASES \(MS\)$/);
    const slowest = lines.slice(slowestAt + 2).filter((l) => l !== '');
    expect(slowest.length).toBeGreaterThan(0);
    expect(slowest.length).toBeLessThanOrEqual(10);
    for (const line of slowest) expect(line).toMatch(/^[0-9A-F]{16}\s+(PutObject|GetObject)\s+200\s+\d+\.\d\s+(\w+=\d+\.\d ?)+$/);

    // The start is an admin action in the audit trail.
    const events = await stack.admin('GET', '/admin/api/events?limit=5');
    expect(events.body.events).toEqual(
      expect.arrayContaining([expect.objectContaining({ event: 'admin.trace', params: { duration_seconds: 3, sample: 1 }, status: 201, actor: 'development token' })]),
    );
  });

  it('--json prints the route\'s report; a workload wholly inside the window is counted exactly', async () => {
    const result = await traceDuring(['--duration', '15s', '--sample', '1', '--json'], () => mixedWorkload('j', 6));
    expect(result.code, result.err).toBe(0);
    const report = JSON.parse(result.out) as Record<string, unknown>;
    expect(report).toMatchObject({
      window: { id: expect.any(String), duration_seconds: 15, sample: 1, open: false, started_at: expect.any(String), ends_at: expect.any(String) },
      samples: 12,
      dropped: 0,
      operations: [
        { operation: 'GetObject', count: 6, phases: { auth: { count: 6 }, metadata: { count: 6 }, backend: { count: 6 }, total: { count: 6 } } },
        { operation: 'PutObject', count: 6, phases: { auth: { count: 6 }, placement: { count: 6 }, backend: { count: 6 }, commit: { count: 6 }, total: { count: 6 } } },
      ],
    });
    const slowest = report.slowest as { request_id: string; operation: string; status: number; phases: Record<string, number> }[];
    expect(slowest).toHaveLength(10);
    for (const s of slowest) expect(Object.keys(s.phases)).toEqual(expect.arrayContaining(['auth', 'backend', 'total']));
    const totals = slowest.map((s) => s.phases.total ?? 0);
    expect(totals).toEqual([...totals].sort((a, b) => b - a));
    // The report of a window another has replaced is refused.
    expect((await stack.admin('GET', '/admin/api/trace?window=not-this-one')).status).toBe(409);
  });

  it('refuses a bad --duration or --sample (exit 2) and a bad body (400 JSON)', async () => {
    for (const args of [['--duration', '0s'], ['--duration', '2h'], ['--duration', 'abc'], ['--sample', '0'], ['--sample', '1.5'], ['--sample', 'abc']]) {
      const refused = await cli('admin', 'trace', ...args);
      expect(refused.code, args.join(' ')).toBe(2);
      expect(refused.err).toMatch(new RegExp(`^s3-orchestrator: ${args[0]} must be .*got "${args[1]}"\\n$`));
    }
    expect(JSON.parse((await cli('admin', 'trace', '--sample', '-1', '--json')).out)).toHaveProperty('error');

    const raw = await fetch(`${stack.endpoint}/admin/api/trace`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: '{"duration_seconds": ',
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toMatchObject({ error: expect.stringMatching(/not JSON/) });
    for (const body of [{ duration_seconds: 0, sample: 0.5 }, { duration_seconds: 601, sample: 0.5 }, { duration_seconds: 1.5, sample: 0.5 }, { duration_seconds: 5, sample: 0 }, { duration_seconds: 5, sample: 2 }, { duration_seconds: 5 }]) {
      const refused = await stack.admin('POST', '/admin/api/trace', body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error).toMatch(/duration_seconds|sample/);
    }
  });
});
