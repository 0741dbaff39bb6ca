/**
 * The audit trail: the ring of admin events (its bound and order, in memory and in its real Durable Object), and
 * the records the Worker writes for an admin action and an S3 mutation, through the real Worker entry: each names
 * its actor and never carries a secret (not the pushed YAML's, not the Authorization header, not a cookie).
 */
import { env } from 'cloudflare:workers';
import { AwsClient } from 'aws4fetch';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AdminEvent, type NewAdminEvent, adminEventRing, memoryRingStorage } from '../../src/observe/admin-events.ts';
import { eventLine } from '../../src/cli/event-line.ts';
import { adminEventsRoute } from '../../src/admin/events-route.ts';
import worker from '../../workers/index.ts';
import { ADMIN_EVENTS_NAME } from '../../workers/admin-events.ts';

const event = (n: number): NewAdminEvent => ({
  event: 'admin.drain',
  request_id: `R${n}`,
  actor: 'ops@example.com',
  params: { backend: `b${n}` },
  status: 202,
  outcome: 'success',
  time: new Date(Date.UTC(2026, 10, 1, 0, 0, n)).toISOString(),
});

const ids = (events: AdminEvent[]) => events.map((e) => e.request_id);

describe('the ring of admin events', () => {
  it('numbers events in order, keeps only the newest ones, and pages after a sequence number', async () => {
    const ring = adminEventRing(memoryRingStorage(), 5);
    for (let n = 1; n <= 8; n++) expect(await ring.append(event(n))).toBe(n);
    // Without `after`: the newest N, oldest first.
    expect(await ring.page(undefined, 3)).toMatchObject({ last: 8 });
    expect(ids((await ring.page(undefined, 3)).events)).toEqual(['R6', 'R7', 'R8']);
    // 1-3 fell out of the ring: asking from the start gives the oldest kept.
    const fromStart = await ring.page(0, 100);
    expect(ids(fromStart.events)).toEqual(['R4', 'R5', 'R6', 'R7', 'R8']);
    expect(fromStart.events.map((e) => e.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(await ring.page(5, 2)).toMatchObject({ last: 7 });
    // Nothing new: `last` stays the newest, so a follower asks from there again.
    expect(await ring.page(8, 10)).toEqual({ events: [], last: 8 });
    expect(await adminEventRing(memoryRingStorage()).page(undefined, 10)).toEqual({ events: [], last: 0 });
  });

  it('is kept by its Durable Object, bounded at 1000 events', async () => {
    const stub = env.ADMIN_EVENTS.get(env.ADMIN_EVENTS.idFromName('ring-bound-test'));
    for (let n = 1; n <= 1003; n++) await stub.append(event(n));
    const oldest = await stub.page(0, 2);
    expect(oldest.events.map((e) => e.seq)).toEqual([4, 5]);
    const newest = await stub.page(undefined, 1000);
    expect(newest.events).toHaveLength(1000);
    expect(newest.events.at(-1)).toMatchObject({ seq: 1003, request_id: 'R1003', params: { backend: 'b1003' } });
    expect(newest.last).toBe(1003);
    // A thousand round trips to the Durable Object: seconds on a busy machine, more than vitest's default allows.
  }, 120_000);

  it('is read by GET /admin/api/events, which refuses bad paging values with a 400', async () => {
    const ring = adminEventRing(memoryRingStorage());
    for (let n = 1; n <= 3; n++) await ring.append(event(n));
    const get = async (query: string) => {
      const response = await adminEventsRoute(new Request(`http://127.0.0.1/admin/api/events${query}`), ring);
      return { status: response.status, body: (await response.json()) as { events?: AdminEvent[]; last?: number; error?: string } };
    };
    expect(ids((await get('')).body.events ?? [])).toEqual(['R1', 'R2', 'R3']);
    expect(await get('?after=1&limit=1')).toMatchObject({ status: 200, body: { events: [{ seq: 2 }], last: 2 } });
    for (const query of ['?limit=0', '?limit=1001', '?limit=ten', '?limit=', '?after=-1', '?after=1.5', '?after=']) {
      const answer = await get(query);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error, query).toMatch(/^(limit|after) must be a whole number/);
    }
  });

  it('prints one line per event for the CLI', () => {
    const line = eventLine({ ...event(1), seq: 1, params: { backend: 'b1', changed: ['a.b', 'c'], note: 'two words', empty: '' } });
    expect(line).toBe('2026-11-01T00:00:01.000Z  ops@example.com  admin.drain  backend=b1  changed=a.b,c  note="two words"  empty=""  202 success');
  });
});

const SECRETS = {
  token: 'unit-audit-admin-token-0123456789',
  cookie: 's3o_session=cookie-secret-value-0123456789',
  backendSecret: 'deployed-backend-secret-0123',
  pushedSecret: 'pushed-backend-secret-456789',
  clientSecret: 'client-secret-key-0123456789',
};

const document = (backendSecret: string, quota: string) => `
server: { log_level: error }
admin: { token: ${SECRETS.token} }
buckets: [{ name: audit-bucket, credentials: [{ access_key_id: AUDITKEY, secret_access_key: ${SECRETS.clientSecret} }] }]
backends: [{ name: a, endpoint: "http://127.0.0.1:9", bucket: b, access_key_id: k, secret_access_key: ${backendSecret}, quota_bytes: ${quota} }]
`;

/** The Worker entry with the deployed document, its waitUntil work awaited, and every console line it wrote. */
async function throughWorker(request: Request): Promise<{ response: Response; lines: string[] }> {
  const lines: string[] = [];
  for (const method of ['log', 'warn', 'error'] as const) vi.spyOn(console, method).mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
  const kept: Promise<unknown>[] = [];
  const ctx = { waitUntil: (p: Promise<unknown>) => kept.push(p), passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
  const workerEnv = { ...env, S3O_CONFIG: document(SECRETS.backendSecret, '1GiB'), S3O_ENVIRONMENT: 'development' };
  const response = await worker.fetch(request as Parameters<typeof worker.fetch>[0], workerEnv, ctx);
  await response.text();
  // waitUntil work may hand on more work (the ring append after the admin answer): wait until none is new.
  for (let seen = 0; seen < kept.length; ) {
    const batch = kept.slice(seen);
    seen = kept.length;
    await Promise.allSettled(batch);
  }
  return { response, lines };
}

const audits = (lines: string[]) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.audit === true);

afterEach(() => vi.restoreAllMocks());

describe('audit records', () => {
  it('record a config push by its actor, version and changed field names, with no secret in the record or the ring', async () => {
    const { response, lines } = await throughWorker(
      new Request('http://127.0.0.1/admin/api/config/versions', {
        method: 'POST',
        headers: { authorization: `Bearer ${SECRETS.token}`, cookie: SECRETS.cookie, 'content-type': 'application/json' },
        body: JSON.stringify({ yaml: document(SECRETS.pushedSecret, '2GiB'), note: 'raise quota' }),
      }),
    );
    expect(response.status).toBe(201);
    const [record, ...more] = audits(lines);
    expect(more).toEqual([]);
    expect(record).toMatchObject({ msg: 'audit', level: 'INFO', event: 'admin.config.push', actor: 'development token', status: 201, outcome: 'success' });
    expect(record?.request_id).toMatch(/^[0-9A-F]{16}$/);
    const params = record?.params as Record<string, unknown>;
    expect(params.version).toBe(2);
    expect(params.changed).toEqual(expect.arrayContaining([expect.stringMatching(/quota/)]));
    const stub = env.ADMIN_EVENTS.get(env.ADMIN_EVENTS.idFromName(ADMIN_EVENTS_NAME));
    const ring = await stub.page(undefined, 10);
    expect(ring.events.at(-1)).toMatchObject({ event: 'admin.config.push', actor: 'development token', request_id: record?.request_id });
    const written = JSON.stringify([record, ring]);
    for (const secret of Object.values(SECRETS)) expect(written).not.toContain(secret);
    expect(written).not.toContain('yaml');
  });

  it('do not record reads', async () => {
    const { response, lines } = await throughWorker(new Request('http://127.0.0.1/admin/api/log-level', { headers: { authorization: `Bearer ${SECRETS.token}` } }));
    expect(response.status).toBe(200);
    expect(audits(lines)).toEqual([]);
  });

  it('record an S3 mutation by access key id with its request id and status, never the secret or signature', async () => {
    const client = new AwsClient({ accessKeyId: 'AUDITKEY', secretAccessKey: SECRETS.clientSecret, service: 's3', region: 'us-east-1' });
    const signed = new Request(await client.sign('http://127.0.0.1/audit-bucket/some/key.txt', { method: 'DELETE', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
    // fetch() adds Host when it sends; a Request built in memory has to be given it.
    signed.headers.set('host', '127.0.0.1');
    // No database is bound here, so the delete fails: failures are audited too, with their status.
    const { response, lines } = await throughWorker(signed);
    const [record, ...more] = audits(lines);
    expect(more).toEqual([]);
    expect(record).toMatchObject({
      event: 's3.DeleteObject',
      actor: 'AUDITKEY',
      request_id: response.headers.get('x-amz-request-id'),
      params: { bucket: 'audit-bucket', key: 'some/key.txt' },
      status: response.status,
      outcome: 'failed',
    });
    const signature = /Signature=([0-9a-f]+)/.exec(signed.headers.get('authorization') ?? '')?.[1];
    expect(signature).toBeDefined();
    const written = JSON.stringify(record);
    expect(written).not.toContain(SECRETS.clientSecret);
    expect(written).not.toContain(signature);
  });
});
