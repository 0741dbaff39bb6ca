/**
 * The seed's three encryption procedures as an operator runs them, on wrangler dev, PostgreSQL, radosgw and s3rver,
 * with the CLI: 1,000 mixed objects (small ones, multipart uploads, one over 64 MiB) with replicas; enable
 * encryption and deploy; `admin encrypt-existing` with a restart in the middle and clients overwriting keys
 * meanwhile; rotate to a new key (the seed's literal `--old-key-id config-0` is explained), remove the old key;
 * `admin decrypt-existing` with a restart in the middle; disable. After every step every object reads byte for
 * byte, the backends hold what the records say (ciphertext or plaintext, read directly), and the accounting is exact.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { cliFor } from '../support/cli.ts';
import { keyedBytes } from '../support/patterns.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'encryption-procedures-token-0123';
const OLD_KEY = Buffer.alloc(32, 0x11).toString('base64');
const NEW_KEY = Buffer.alloc(32, 0x22).toString('base64');
const MiB = 1024 * 1024;
const SMALL_OBJECTS = 1000;
let s: TestStack;
/** What every key should read as now. */
const expected = new Map<string, Uint8Array>();

beforeAll(async () => {
  s = await startTestStack({
    name: 'encryption_procedures',
    admin: { token: TOKEN },
    backends: [
      { name: 'a', kind: 'radosgw' },
      { name: 'b', kind: 'radosgw' },
      { name: 'c', kind: 's3rver' },
    ],
    sections: { replication: { factor: 2, batch_size: 200 } },
    vars: { OLD_ENCRYPTION_KEY: OLD_KEY, NEW_ENCRYPTION_KEY: NEW_KEY },
  });
}, 300_000);

afterAll(() => s?.stop());

const cli = (...args: string[]) => cliFor(() => s.endpoint, TOKEN)(...args);
const cron = () => fetch(`${s.endpoint}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());

const content = keyedBytes;

async function inParallel<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    for (let item = items[next++]; item !== undefined; item = items[next++]) await work(item);
  }));
}

async function put(key: string, bytes: Uint8Array): Promise<void> {
  await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: key, Body: bytes }));
  expected.set(key, bytes);
}

async function expectEveryObjectReads(): Promise<void> {
  await inParallel([...expected.keys()], 8, async (key) => {
    const out = await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: key }));
    const body = await out.Body!.transformToByteArray();
    expect(Buffer.from(body).equals(Buffer.from(expected.get(key)!)), key).toBe(true);
  });
}

/** Every copy as its backend holds it is sealed (`sealed`) or the client's bytes, as its record says. */
async function expectBackendsHold(sealed: boolean): Promise<void> {
  const rows = await s.query<{ key: string; backend_name: string; physical_key: string; encrypted: boolean }>(
    'select key, backend_name, physical_key, encryption is not null as encrypted from object_locations where bucket = $1',
    [s.bucket],
  );
  expect(rows.length).toBe(2 * expected.size);
  expect(rows.filter((r) => r.encrypted !== sealed).map((r) => `${r.key} on ${r.backend_name}`)).toEqual([]);
  // Read a sample of copies (and every large one) straight from the backends.
  const sample = rows.filter((r, i) => i % 50 === 0 || (expected.get(r.key)?.byteLength ?? 0) > MiB);
  for (const row of sample) {
    const backend = s.backend(row.backend_name);
    const bytes = Buffer.from(await (await backend.aws.fetch(`${backend.base}/${row.physical_key}`)).arrayBuffer());
    const plain = Buffer.from(expected.get(row.key)!);
    if (sealed) {
      expect(bytes.subarray(0, 4).toString(), row.key).toBe('S3OE');
      if (plain.byteLength >= 32) expect(bytes.includes(plain.subarray(0, 32)), row.key).toBe(false);
    } else {
      expect(bytes.equals(plain), row.key).toBe(true);
    }
  }
  // Nothing lingers untracked: every physical object is a recorded copy, or queued for deletion (the new bytes of
  // a rewrite the restart cut short are queued before they are written, and deleted an hour later).
  const queued = await s.query<{ backend_name: string; physical_key: string }>('select backend_name, physical_key from cleanup_queue');
  for (const name of ['a', 'b', 'c']) {
    const tracked = new Set([...rows, ...queued].filter((r) => r.backend_name === name).map((r) => r.physical_key));
    const keys = (await s.backendKeys(name)).filter((k) => k.startsWith(`${s.bucket}/`));
    expect(keys.filter((k) => !tracked.has(k)), `untracked objects on ${name}`).toEqual([]);
  }
}

/** Replication cycles until every object has its two copies (what the cron does, at once). */
async function replicateAll(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const response = await fetch(`${s.endpoint}/admin/api/replicate`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
    const text = await response.text();
    expect(response.status, text).toBe(200);
    if (!(JSON.parse(text) as { more_pending?: boolean }).more_pending) return;
  }
}

async function jobStatus(kind: string): Promise<Record<string, unknown>> {
  return (await s.admin('GET', `/admin/api/${kind}`)).body;
}

/** Starts the job with the CLI (no --wait), restarts the Worker once it has made progress, then waits it out with --wait. */
async function runWithRestart(kind: string, word: string, options: { args?: string[]; overwrite?: () => Promise<void> } = {}): Promise<Record<string, unknown>> {
  const args = options.args ?? [];
  const started = await cli('admin', kind, ...args);
  expect(started.code, started.err).toBe(0);
  expect(started.out).toContain(`${kind} started`);
  const job = /started \(([^)]+)\)/.exec(started.out)?.[1];
  // Asking again while it runs reports the same job (a quick job may already be complete: then it is not asked).
  if ((await jobStatus(kind)).status === 'running') {
    const again = JSON.parse((await cli('admin', kind, ...args, '--json')).out) as Record<string, unknown>;
    expect(again.job).toBe(job);
  }
  await options.overwrite?.();
  for (let i = 0; ; i++) {
    const status = await jobStatus(kind);
    if (Number(status[word]) > 0 || status.status === 'complete') break;
    if (i > 600) throw new Error(`${kind} made no progress`);
    await new Promise((r) => setTimeout(r, 100));
  }
  // The Worker stops mid-job (a local queue loses its messages); the cron finds the job quiet and sends its batches again.
  await s.restart();
  const resume = setInterval(() => void cron().catch(() => {}), 5000);
  try {
    // `--wait` follows the running job; one already complete is read as it is (running the command again would
    // start a new one).
    const now = await jobStatus(kind);
    if (now.status === 'complete') {
      expect(now.job).toBe(job);
      return now;
    }
    const waited = await cli('admin', kind, ...args, '--wait', '--json');
    expect(waited.code, `${waited.out}${waited.err}`).toBe(0);
    const result = JSON.parse(waited.out) as Record<string, unknown>;
    expect(result.job).toBe(job);
    return result;
  } finally {
    clearInterval(resume);
  }
}

describe('the seed\'s encryption procedures', () => {
  it('enable, encrypt existing data (restart and client writes meanwhile), rotate, remove the old key, decrypt, disable', { timeout: 1_800_000 }, async () => {
    // Data written before encryption: small objects, multipart uploads, one object over 64 MiB; then replicas.
    await inParallel(Array.from({ length: SMALL_OBJECTS }, (_, i) => i), 16, (i) => put(`data/${String(i).padStart(4, '0')}`, content(`s${i}`, 0, i % 10 === 0 ? 0 : (i * 977) % 65_536)));
    for (let i = 0; i < 3; i++) {
      const bytes = content(`m${i}`, 0, 11 * MiB + i * 1000);
      await new Upload({ client: s.client(), params: { Bucket: s.bucket, Key: `multipart/${i}`, Body: bytes }, partSize: 5 * MiB }).done();
      expected.set(`multipart/${i}`, bytes);
    }
    await put('large/70MiB', content('large', 0, 70 * MiB));
    await replicateAll();
    await expectBackendsHold(false);
    await s.expectExactAccounting();

    // Not enabled yet: refused with a clear error.
    const refused = await cli('admin', 'encrypt-existing');
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('encryption is not enabled');

    // 1. Enable encryption in the config and deploy ("restart the orchestrator").
    const base = s.deployedConfig();
    await s.redeploy(stringify({ ...base, encryption: { enabled: true, master_key: '${OLD_ENCRYPTION_KEY}' } }));

    // 2. Encrypt existing objects, with a restart in the middle and clients overwriting keys meanwhile.
    const encrypted = await runWithRestart('encrypt-existing', 'encrypted', {
      overwrite: async () => {
        await inParallel(Array.from({ length: 50 }, (_, i) => i * 20), 4, (i) => put(`data/${String(i).padStart(4, '0')}`, content(`s${i}`, 1, 3000 + i)));
      },
    });
    const copies = 2 * expected.size;
    expect(encrypted).toMatchObject({ status: 'complete', failed: 0 });
    expect(Number(encrypted.encrypted) + Number(encrypted.skipped)).toBe(encrypted.total);
    // The overwritten keys have one (encrypted) copy until replication copies it as it is.
    await replicateAll();
    await expectBackendsHold(true);
    await expectEveryObjectReads();
    await s.expectExactAccounting();
    // 3. The metric the seed names.
    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(Number(/^s3o_encrypt_existing_objects_total\{status="success"\} (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(Number(encrypted.encrypted));

    // Rotating: the new key becomes master_key, the old one moves to previous_keys; deploy.
    await s.redeploy(stringify({ ...base, encryption: { enabled: true, master_key: '${NEW_ENCRYPTION_KEY}', previous_keys: ['${OLD_ENCRYPTION_KEY}'] } }));
    await expectEveryObjectReads();
    const keys = JSON.parse((await cli('admin', 'encryption', '--json')).out) as { keys: { id: string; alias: string; copies: number }[] };
    expect(keys.keys.map((k) => [k.alias, k.copies])).toEqual([['config-0', 0], ['config-1', copies]]);
    // The seed's literal step 4 names config-0, which is now the new key: refused, with what to run instead.
    const literal = await cli('admin', 'rotate-encryption-key', '--old-key-id', 'config-0');
    expect(literal.code).toBe(1);
    expect(literal.err).toMatch(new RegExp(`config-0 is k-[0-9a-f]{16}, the current primary key.*config-1 \\(${keys.keys[1]!.id}\\) wraps ${copies} copies.*--old-key-id config-1`));
    // With a restart in the middle too (a copy re-wrapped before it may be found done again: skipped).
    const rotated = await runWithRestart('rotate-encryption-key', 'rotated', { args: ['--old-key-id', 'config-1'] });
    expect(rotated).toMatchObject({ status: 'complete', failed: 0, total: copies });
    expect(Number(rotated.rotated) + Number(rotated.skipped)).toBe(copies);
    const after = JSON.parse((await cli('admin', 'encryption', '--json')).out) as { keys: { alias: string; copies: number }[] };
    expect(after.keys.map((k) => [k.alias, k.copies])).toEqual([['config-0', copies], ['config-1', 0]]);
    // 5. Remove the old key and deploy: everything still reads.
    await s.redeploy(stringify({ ...base, encryption: { enabled: true, master_key: '${NEW_ENCRYPTION_KEY}' } }));
    await expectEveryObjectReads();
    await s.expectExactAccounting();

    // Decrypting: keys stay configured while it runs (a restart in the middle), then encryption is disabled.
    const decrypted = await runWithRestart('decrypt-existing', 'decrypted');
    expect(decrypted).toMatchObject({ status: 'complete', failed: 0 });
    await expectBackendsHold(false);
    await s.redeploy(stringify(base));
    await expectEveryObjectReads();
    await s.expectExactAccounting();
  });
});
