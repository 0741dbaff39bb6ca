/**
 * Lifecycle expiration and the stale multipart GC on radosgw, through the real Worker and cron: a rule deletes
 * exactly the expired keys of its bucket and client key prefix (from listings and from the backends, replicas
 * included); a config push of a new rule applies without a restart; stale uploads vanish from the backend with
 * their parts; three cron runs at once are harmless. Objects and uploads are made old by setting their created_at
 * back in the test database. Every test ends on the accounting invariant.
 */
import { CreateMultipartUploadCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliFor } from '../support/cli.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'lifecycle-test-admin-token';
const RULE = { bucket: 'itest', prefix: 'tmp/', expiration_days: 7 };
let s: TestStack;

beforeAll(async () => {
  s = await startTestStack({
    name: 'lifecycle',
    admin: { token: TOKEN },
    strategy: 'pack',
    backends: [
      { name: 'a', kind: 'radosgw' },
      { name: 'b', kind: 'radosgw' },
    ],
    sections: { lifecycle: { rules: [RULE] }, cleanup_queue: { multipart_stale_timeout: '2h' } },
  });
});

afterAll(async () => {
  await s?.stop();
});

const cli = cliFor(() => s.endpoint, TOKEN);

const cron = () => fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());

async function push(sections: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown> }> {
  return s.admin('POST', '/admin/api/config/versions', { yaml: stringify({ ...s.deployedConfig(), ...sections }) });
}

async function put(bucket: string, key: string, credentials = bucket === s.bucket ? s.credentials[0] : s.credentials[2]) {
  await s.client(credentials).send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `body of ${bucket}/${key}` }));
}

async function age(bucket: string, key: string, days: number) {
  await s.query(`update objects set created_at = now() - make_interval(days => $3) where bucket = $1 and key = $2`, [bucket, key, days]);
}

async function listed(bucket: string): Promise<string[]> {
  const credentials = bucket === s.bucket ? s.credentials[0] : s.credentials[2];
  const page = await s.client(credentials).send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => o.Key ?? '').sort();
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.slice(name.length + 1) ?? 'NaN');
}

/** Moves the job's last run an hour back, as if the hour had passed. */
async function hourPasses(job: string): Promise<void> {
  await s.query(`update job_leases set last_run_at = last_run_at - interval '1 hour' where name = $1`, [job]);
}

/** Physical copies of the keys, by backend, as recorded now. */
async function copiesOf(bucket: string, keys: readonly string[]): Promise<{ backend_name: string; physical_key: string; key: string }[]> {
  return s.query('select backend_name, physical_key, key from object_locations where bucket = $1 and key = any($2::text[]) order by key, backend_name', [bucket, [...keys]]);
}

async function onBackend(copies: readonly { backend_name: string; physical_key: string }[]): Promise<boolean[]> {
  const keys = new Map<string, Set<string>>();
  for (const name of ['a', 'b']) keys.set(name, new Set(await s.backendKeys(name)));
  return copies.map((c) => keys.get(c.backend_name)?.has(c.physical_key) ?? false);
}

/** Upload ids in progress on the backend itself (its own ListMultipartUploads). */
async function backendUploads(name: string): Promise<string[]> {
  const backend = s.backend(name);
  const xml = await (await backend.aws.fetch(`${backend.base}?uploads`)).text();
  return [...xml.matchAll(/<UploadId>([^<]*)<\/UploadId>/g)].map((m) => m[1] ?? '');
}

/**
 * Fires the cron (`parallel` ticks at once) until `done` holds: a rule with more continues on each tick, and a
 * pushed version reaches the Worker's isolates within a few seconds. Bounded: 30 rounds, a second apart.
 */
async function tickUntil(done: () => Promise<boolean>, parallel = 1): Promise<void> {
  for (let round = 0; round < 30 && !(await done()); round++) {
    await Promise.all(Array.from({ length: parallel }, cron));
    if (!(await done())) await new Promise((r) => setTimeout(r, 1000));
  }
  expect(await done()).toBe(true);
}

describe('lifecycle expiration', () => {
  it('deletes exactly the expired keys of the named bucket under the prefix, from listings and from the backends', async () => {
    const expired = ['tmp/a', 'tmp/b/c', 'tmp/replicated'];
    const kept = ['tmp', 'tmpx', 'keep/tmp/x', 'Tmp/upper', 'tmp/young', 'tmp/new', 'tmp/overwritten'];
    for (const key of [...expired, ...kept]) await put(s.bucket, key);
    await put(s.otherBucket, 'tmp/a');
    for (const key of [...expired, ...kept.filter((k) => k !== 'tmp/young' && k !== 'tmp/new')]) await age(s.bucket, key, 8);
    await age(s.otherBucket, 'tmp/a', 8);
    await age(s.bucket, 'tmp/young', 6);
    // A replica made after the write does not restart the clock (nor would a drain's move).
    await s.addReplica('tmp/replicated', 'a', 'b');
    // A client's write does: written again, it is new.
    await put(s.bucket, 'tmp/overwritten');
    const expiredCopies = await copiesOf(s.bucket, expired);
    expect(expiredCopies.map((c) => c.backend_name)).toEqual(['a', 'a', 'a', 'b']);
    expect(await onBackend(expiredCopies)).toEqual([true, true, true, true]);
    const keptCopies = [...(await copiesOf(s.bucket, kept)), ...(await copiesOf(s.otherBucket, ['tmp/a']))];

    // The Worker ran the job at start; an hour later it is due again.
    await hourPasses('lifecycle');
    const runs = await metric('s3o_lifecycle_runs_total{status="success"}');
    await cron();
    expect(await listed(s.bucket)).toEqual([...kept].sort());
    expect(await listed(s.otherBucket)).toEqual(['tmp/a']);
    expect(await onBackend(expiredCopies)).toEqual([false, false, false, false]);
    expect(await onBackend(keptCopies)).toEqual(keptCopies.map(() => true));
    expect(await metric('s3o_lifecycle_deleted_total')).toBe(3);
    expect(await metric('s3o_lifecycle_failed_total')).toBe(0);
    expect(await metric('s3o_lifecycle_runs_total{status="success"}')).toBe(runs + 1);
    const status = await s.admin('GET', '/admin/api/status');
    expect(status.body.jobs).toMatchObject({ lifecycle: { more_pending: false, running: false, totals: { deleted: 3, runs_success: runs + 1 } } });
    expect((await cli('admin', 'status')).out).toMatch(/^lifecycle: last run \S+; .*\bdeleted 3\b/m);
    // Within the hour the job is not due again.
    await cron();
    expect(await metric('s3o_lifecycle_runs_total{status="success"}')).toBe(runs + 1);
    await s.expectExactAccounting();
  });

  it('a config push of a new rule applies without a restart; a rule naming an unknown bucket is refused', async () => {
    const refused = await push({ lifecycle: { rules: [RULE, { bucket: 'nope', expiration_days: 1 }] } });
    expect(refused.status).toBe(400);
    expect(refused.body.problems).toContainEqual({ path: 'lifecycle.rules[1].bucket', message: 'names bucket "nope", which is not in buckets[]' });
    const copies = await copiesOf(s.otherBucket, ['tmp/a']);

    const pushed = await push({ lifecycle: { rules: [RULE, { bucket: s.otherBucket, expiration_days: 1 }] } });
    expect(pushed.status).toBe(201);
    expect(pushed.body.changes).toContainEqual(expect.objectContaining({ field: 'lifecycle.rules', change: 'changed', effect: 'reloadable' }));
    // Isolates take up a pushed version within a few seconds; the changed settings make the job due at once.
    await tickUntil(async () => (await listed(s.otherBucket)).length === 0);
    expect(await onBackend(copies)).toEqual([false]);
    expect(await listed(s.bucket)).toContain('tmp/young');
    await s.expectExactAccounting();
  });

  it('three cron runs at once are harmless: every expired object is deleted once, over as many ticks as batches', async () => {
    const keys = ['tmp/c/1', 'tmp/c/2', 'tmp/c/3', 'tmp/c/4', 'tmp/c/5'];
    for (const key of keys) await put(s.bucket, key);
    for (const key of keys) await age(s.bucket, key, 30);
    const copies = await copiesOf(s.bucket, keys);
    const before = await metric('s3o_lifecycle_deleted_total');
    expect((await push({ lifecycle: { rules: [RULE, { bucket: s.otherBucket, expiration_days: 1 }], batch_size: 2 } })).status).toBe(201);
    const gone = async () => !(await listed(s.bucket)).some((k) => k.startsWith('tmp/c/'));
    await tickUntil(gone, 3);
    expect(await metric('s3o_lifecycle_deleted_total')).toBe(before + keys.length);
    expect(await metric('s3o_lifecycle_failed_total')).toBe(0);
    expect(await onBackend(copies)).toEqual(copies.map(() => false));
    expect(await s.query('select id from cleanup_queue')).toEqual([]);
    expect(await listed(s.bucket)).toContain('tmp/young');
    await s.expectExactAccounting();
  });
});

describe('stale multipart GC', () => {
  it('aborts uploads older than multipart_stale_timeout: they vanish from the backend with their parts', async () => {
    const client = s.client();
    const start = async (key: string) => {
      const uploadId = (await client.send(new CreateMultipartUploadCommand({ Bucket: s.bucket, Key: key }))).UploadId ?? '';
      await client.send(new UploadPartCommand({ Bucket: s.bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: 'part one of '.repeat(100) }));
      return uploadId;
    };
    const stale = await start('mp/stale');
    const fresh = await start('mp/fresh');
    const backendIds = await s.query<{ upload_id: string; backend_upload_id: string }>('select upload_id, backend_upload_id from multipart_uploads order by key');
    const backendId = (id: string) => backendIds.find((u) => u.upload_id === id)?.backend_upload_id ?? '';
    expect(await backendUploads('a')).toEqual(expect.arrayContaining([backendId(stale), backendId(fresh)]));
    // Started 3 h ago: past the deployed 2 h; the fresh one is 1 h old.
    await s.query(`update multipart_uploads set created_at = now() - interval '3 hours' where upload_id = $1`, [stale]);
    await s.query(`update multipart_uploads set created_at = now() - interval '1 hour' where upload_id = $1`, [fresh]);
    const before = await metric('s3o_multipart_stale_aborted_total');

    // The GC ran when the Worker started; a pushed timeout reloads and makes it due at once.
    expect((await push({ cleanup_queue: { multipart_stale_timeout: '90m' } })).status).toBe(201);
    const gone = async () => !(await backendUploads('a')).includes(backendId(stale));
    await tickUntil(gone, 3);
    expect(await backendUploads('a')).toContain(backendId(fresh));
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: s.bucket }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toEqual([fresh]);
    expect(await metric('s3o_multipart_stale_aborted_total')).toBe(before + 1);
    const status = await s.admin('GET', '/admin/api/status');
    expect(status.body.jobs).toMatchObject({ multipart_gc: { totals: { aborted: before + 1 } } });
    await s.expectExactAccounting();
  });
});
