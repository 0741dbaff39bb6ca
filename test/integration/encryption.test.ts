/**
 * Encryption at rest on the real stack (wrangler dev, PostgreSQL, radosgw): the AWS SDK at its defaults puts and
 * gets its bytes while radosgw holds only ciphertext (read directly), ranges and multipart uploads work, listings
 * and HEAD show the client's sizes, a tampered copy fails over or is refused, and a missing key answers 503.
 */
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { seededBytes } from '../support/patterns.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'encryption-test-admin-token-0123';
const KEY_A = Buffer.alloc(32, 7).toString('base64');
const KEY_B = Buffer.alloc(32, 9).toString('base64');
const MiB = 1024 * 1024;
let s: TestStack;

beforeAll(async () => {
  s = await startTestStack({
    name: 'encryption',
    admin: { token: TOKEN },
    backends: [
      { name: 'a', kind: 'radosgw' },
      { name: 'b', kind: 'radosgw' },
    ],
    sections: { replication: { factor: 2 }, encryption: { enabled: true, master_key: '${ENC_KEY_A}', chunk_size: '16KiB' } },
    vars: { ENC_KEY_A: KEY_A, ENC_KEY_B: KEY_B },
  });
}, 300_000);

afterAll(() => s?.stop());

const content = seededBytes;

async function get(key: string, range?: string): Promise<Uint8Array> {
  const out = await s.client().send(new GetObjectCommand({ Bucket: s.bucket, Key: key, ...(range ? { Range: range } : {}) }));
  return out.Body!.transformToByteArray();
}

async function stored(key: string): Promise<{ backend: string; bytes: Uint8Array }[]> {
  const rows = await s.query<{ backend_name: string; physical_key: string }>('select backend_name, physical_key from object_locations where bucket = $1 and key = $2', [s.bucket, key]);
  return Promise.all(
    rows.map(async (r) => {
      const backend = s.backend(r.backend_name);
      const response = await backend.aws.fetch(`${backend.base}/${r.physical_key}`);
      return { backend: r.backend_name, bytes: new Uint8Array(await response.arrayBuffer()) };
    }),
  );
}

function includes(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).includes(Buffer.from(needle.subarray(0, 32)));
}

describe('encryption at rest', () => {
  it('stores ciphertext on the backend and gives the client its bytes, sizes and ETag', async () => {
    const bytes = content(100_000, 1);
    const put = await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: 'docs/report.pdf', Body: bytes }));
    expect(put.ETag).toBe(`"${createHash('md5').update(bytes).digest('hex')}"`);
    expect(Buffer.from(await get('docs/report.pdf')).equals(Buffer.from(bytes))).toBe(true);
    const head = await s.client().send(new HeadObjectCommand({ Bucket: s.bucket, Key: 'docs/report.pdf' }));
    expect(head.ContentLength).toBe(100_000);
    const list = await s.client().send(new ListObjectsV2Command({ Bucket: s.bucket, Prefix: 'docs/' }));
    expect(list.Contents?.map((c) => [c.Key, c.Size, c.ETag])).toEqual([['docs/report.pdf', 100_000, put.ETag]]);
    const [copy] = await stored('docs/report.pdf');
    expect(Buffer.from(copy!.bytes.subarray(0, 4)).toString()).toBe('S3OE');
    expect(copy!.bytes.byteLength).toBe(32 + 100_000 + 16 * Math.ceil(100_000 / 16384));
    expect(includes(copy!.bytes, bytes)).toBe(false);
    await s.expectExactAccounting();
  });

  it('serves ranges and multipart uploads (lib-storage) across chunk and part boundaries', async () => {
    const bytes = content(12 * MiB + 12345, 2);
    await new Upload({ client: s.client(), params: { Bucket: s.bucket, Key: 'big/multipart.bin', Body: bytes }, partSize: 5 * MiB }).done();
    expect(Buffer.from(await get('big/multipart.bin')).equals(Buffer.from(bytes))).toBe(true);
    for (const [start, end] of [[0, 0], [16383, 16384], [5 * MiB - 10, 5 * MiB + 10], [12 * MiB, 12 * MiB + 12344]] as const) {
      expect(Buffer.from(await get('big/multipart.bin', `bytes=${start}-${end}`)).equals(Buffer.from(bytes.subarray(start, end + 1))), `${start}-${end}`).toBe(true);
    }
    const [copy] = await stored('big/multipart.bin');
    expect(includes(copy!.bytes, bytes.subarray(6 * MiB))).toBe(false);
    await s.expectExactAccounting();
  });

  it('fails over from a tampered copy to a replica, and refuses when no copy opens', async () => {
    const bytes = content(50_000, 3);
    await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: 'tamper/me', Body: bytes }));
    expect((await s.admin('POST', '/admin/api/replicate')).status).toBe(200);
    const rows = await s.query<{ backend_name: string; physical_key: string }>('select backend_name, physical_key from object_locations where key = $1 order by created_at, backend_name', ['tamper/me']);
    expect(rows).toHaveLength(2);
    const spoil = async (row: { backend_name: string; physical_key: string }) => {
      const backend = s.backend(row.backend_name);
      const body = new Uint8Array(await (await backend.aws.fetch(`${backend.base}/${row.physical_key}`)).arrayBuffer());
      body[40] = body[40]! ^ 1;
      expect((await backend.aws.fetch(`${backend.base}/${row.physical_key}`, { method: 'PUT', body })).ok).toBe(true);
    };
    await spoil(rows[0]!);
    expect(Buffer.from(await get('tamper/me')).equals(Buffer.from(bytes))).toBe(true);
    await spoil(rows[1]!);
    await expect(get('tamper/me')).rejects.toMatchObject({ name: 'InternalError', $metadata: { httpStatusCode: 500 } });
  });

  it('answers 503 naming the key when a copy\'s key is not configured, and reads again once it is back', async () => {
    const bytes = content(2000, 4);
    await s.client().send(new PutObjectCommand({ Bucket: s.bucket, Key: 'keys/old', Body: bytes }));
    const config = s.deployedConfig();
    const withoutA = { ...config, encryption: { enabled: true, master_key: '${ENC_KEY_B}', chunk_size: '16KiB' } };
    await s.redeploy(stringify(withoutA));
    const refused = await get('keys/old').catch((err: unknown) => err);
    expect(refused).toMatchObject({ name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
    expect((refused as Error).message).toMatch(/encryption key k-[0-9a-f]{16} of this object is not available/);
    const metrics = await (await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toMatch(/^s3o_encryption_unknown_key_id_total [1-9]/m);
    await s.redeploy(stringify({ ...withoutA, encryption: { ...withoutA.encryption, previous_keys: ['${ENC_KEY_A}'] } }));
    expect(Buffer.from(await get('keys/old')).equals(Buffer.from(bytes))).toBe(true);
    await s.expectExactAccounting();
  });
});
