/**
 * An attacker with a valid credential for one bucket, against the real Worker on radosgw (which verifies every
 * signature): keys never leave their bucket's prefix on a backend; bodies are bound to the signature.
 */
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { bodyBytes, randomBody, sha256 } from '../support/bytes.ts';
import { s3Failure, xmlError } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const ADMIN_TOKEN = 'hardening-admin-token-0123456789';
let stack: TestStack;
let s3: S3Client;
let signer: AwsClient;

beforeAll(async () => {
  stack = await startTestStack({
    name: 'hardening',
    backends: [
      { name: 'rgw', kind: 'radosgw' },
      { name: 'rgw2', kind: 'radosgw' },
    ],
    admin: { token: ADMIN_TOKEN },
  });
  s3 = stack.client();
  const creds = stack.credentials[0]!;
  signer = new AwsClient({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, service: 's3', region: 'us-east-1', retries: 0 });
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

/** Every physical key on both backends (the second one's bucket is what a traversal would aim at). */
async function everyBackendKey(): Promise<string[]> {
  return [...(await stack.backendKeys('rgw')), ...(await stack.backendKeys('rgw2'))];
}

describe('object keys stay in their bucket prefix on the backend', () => {
  /** A signed request whose key travels with its slashes percent-encoded, as an attacker (or a careful client) sends it. */
  const objectUrl = (key: string) => `${stack.endpoint}/${stack.bucket}/${encodeURIComponent(key)}`;

  it('a key that decodes to ../other-bucket/... lands under its own bucket, not in another tenant or backend bucket', async () => {
    const otherBackendBucket = new URL(stack.backend('rgw2').base).pathname.slice(1);
    const attacks = ['../other-bucket/planted', `../../${otherBackendBucket}/planted`, '../../../x'];
    for (const key of attacks) {
      const body = randomBody(777);
      const put = await signer.fetch(objectUrl(key), { method: 'PUT', body: new Uint8Array(body) });
      expect(put.status, key).toBe(200);
      const onBackends = await everyBackendKey();
      expect(onBackends.length).toBe(1);
      expect(onBackends[0]!.startsWith(`${stack.bucket}/`), onBackends[0]).toBe(true);
      const got = await signer.fetch(objectUrl(key));
      expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(sha256(body));
      // The other tenant sees nothing of it.
      const other = stack.client(stack.credentials[2]);
      expect((await other.send(new ListObjectsV2Command({ Bucket: stack.otherBucket }))).KeyCount).toBe(0);
      expect((await signer.fetch(objectUrl(key), { method: 'DELETE' })).status).toBe(204);
      expect(await everyBackendKey()).toEqual([]);
    }
  });

  it('stores keys with dot segments byte-exact under the bucket prefix, lists them as written, deletes them cleanly', async () => {
    const keys = ['../x', 'a/../../x', './x', '%2e%2e/x', 'a/./b/../c', '~../escaped', '.../x'];
    const bodies = new Map<string, Buffer>();
    for (const key of keys) {
      const body = randomBody(1000 + bodies.size);
      bodies.set(key, body);
      const put = await signer.fetch(objectUrl(key), { method: 'PUT', body: new Uint8Array(body) });
      expect(put.status, key).toBe(200);
    }
    const onBackends = await everyBackendKey();
    expect(onBackends).toHaveLength(keys.length);
    for (const physical of onBackends) {
      expect(physical.startsWith(`${stack.bucket}/`), physical).toBe(true);
      expect(physical.split('/').some((s) => s === '.' || s === '..'), physical).toBe(false);
    }
    for (const [key, body] of bodies) {
      const got = await signer.fetch(objectUrl(key));
      expect(got.status, key).toBe(200);
      expect(sha256(new Uint8Array(await got.arrayBuffer())), key).toBe(sha256(body));
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: stack.bucket }));
    expect(listed.Contents?.map((c) => c.Key).sort()).toEqual([...keys].sort());
    // A key without dot segments on the wire works from the SDK at its defaults too.
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: '%2e%2e/x' }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(bodies.get('%2e%2e/x')!));

    for (const key of keys) expect((await signer.fetch(objectUrl(key), { method: 'DELETE' })).status, key).toBe(204);
    expect(await everyBackendKey()).toEqual([]);
  });

  it('a dot segment sent as such is collapsed by the platform before the Worker, so the request is refused and nothing is written', async () => {
    for (const key of ['../x', 'a/../../x', './x', '..', 'a/.']) {
      const failure = await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: 'nope' })).then(
        () => 'stored',
        (err: Error) => err.name,
      );
      expect(failure, key).toMatch(/SignatureDoesNotMatch|AccessDenied|MethodNotAllowed/);
    }
    expect(await everyBackendKey()).toEqual([]);
  });
});

describe('request bodies are bound to the signed payload hash', () => {
  const deleteXml = (key: string) => `<?xml version="1.0" encoding="UTF-8"?><Delete><Object><Key>${key}</Key></Object></Delete>`;
  const base64Md5 = (text: string) => createHash('md5').update(text).digest('base64');
  const hexSha256 = (text: string) => createHash('sha256').update(text).digest('hex');

  /** Signs `signedBody` (its SHA-256 in x-amz-content-sha256), then sends `sentBody` under that signature. */
  async function replay(url: string, method: string, signedBody: string, sentBody: string, extra: Record<string, string> = {}): Promise<Response> {
    const signed = await signer.sign(url, { method, headers: { 'x-amz-content-sha256': hexSha256(signedBody) }, body: signedBody });
    const headers = new Headers(signed.headers);
    for (const [name, value] of Object.entries(extra)) headers.set(name, value);
    return fetch(url, { method, headers, body: sentBody });
  }

  it('DeleteObjects with a body other than the signed one is refused and deletes nothing', async () => {
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'signed-victim', Body: 'a' }));
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'keep-me', Body: 'b' }));
    const url = `${stack.endpoint}/${stack.bucket}?delete=`;
    // Content-MD5 is not an x-amz-* header, so a client may leave it unsigned; the attacker recomputes it.
    const forged = deleteXml('keep-me');
    const response = await replay(url, 'POST', deleteXml('signed-victim'), forged, { 'content-md5': base64Md5(forged) });
    expect(await xmlError(response)).toEqual({ status: 400, code: 'XAmzContentSHA256Mismatch' });
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: stack.bucket }));
    expect(listed.Contents?.map((c) => c.Key).sort()).toEqual(['keep-me', 'signed-victim']);

    // The body the client signed still works.
    const honest = await replay(url, 'POST', deleteXml('signed-victim'), deleteXml('signed-victim'), { 'content-md5': base64Md5(deleteXml('signed-victim')) });
    expect(honest.status).toBe(200);
    const after = await s3.send(new ListObjectsV2Command({ Bucket: stack.bucket }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(['keep-me']);
    await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: 'keep-me' }));
  });

  it('CompleteMultipartUpload with a body other than the signed one is refused and completes nothing', async () => {
    const key = 'signed-multipart';
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: stack.bucket, Key: key }));
    const uploadId = created.UploadId!;
    const part1 = randomBody(5 * 1024 * 1024);
    const part2 = randomBody(1024);
    const etag1 = (await s3.send(new UploadPartCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: part1 }))).ETag!;
    const etag2 = (await s3.send(new UploadPartCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, PartNumber: 2, Body: part2 }))).ETag!;
    const complete = (parts: [number, string][]) =>
      `<CompleteMultipartUpload>${parts.map(([n, e]) => `<Part><PartNumber>${n}</PartNumber><ETag>${e}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    const url = `${stack.endpoint}/${stack.bucket}/${key}?uploadId=${encodeURIComponent(uploadId)}`;
    // radosgw wants every uploaded part listed, so the forged list differs only in its bytes; any difference counts.
    const response = await replay(url, 'POST', complete([[1, etag1], [2, etag2]]), `${complete([[1, etag1], [2, etag2]])}\n`);
    expect(await xmlError(response)).toEqual({ status: 400, code: 'XAmzContentSHA256Mismatch' });
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: stack.bucket }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toEqual([uploadId]);

    const honest = await replay(url, 'POST', complete([[1, etag1], [2, etag2]]), complete([[1, etag1], [2, etag2]]));
    expect(honest.status).toBe(200);
    const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect(head.ContentLength).toBe(part1.length + part2.length);
    await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: key }));
  });
});

describe('configuration variables are not an oracle for the Worker\'s secrets', () => {
  const rgwSecret = () => inject('radosgw').secretAccessKey;
  const withBackend = (change: Record<string, unknown>, top: Record<string, unknown> = {}) => {
    const doc = stack.deployedConfig() as { backends: Record<string, unknown>[] };
    doc.backends[0] = { ...doc.backends[0], ...change };
    return stringify({ ...doc, ...top });
  };
  const call = async (path: string, yaml: string) => {
    const response = await fetch(`${stack.endpoint}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ yaml }),
    });
    return { status: response.status, text: await response.text() };
  };

  it('a pushed document cannot expand the database URL or any variable the deployment did not give the configuration', async () => {
    const before = await stack.admin('GET', '/admin/api/config/versions');
    for (const path of ['/admin/api/config/diff', '/admin/api/config/versions']) {
      const answer = await call(path, withBackend({ region: '${DATABASE_URL}', endpoint: 'http://${DATABASE_LOCAL_PROXY}' }));
      expect(answer.status).toBe(400);
      expect(answer.text).toContain('${DATABASE_URL} is not set');
      expect(answer.text).not.toContain(stack.databaseUrl);
      expect(answer.text).not.toContain(new URL(stack.databaseUrl).password);
      expect(answer.text).not.toMatch(/127\.0\.0\.1:\d+/);
    }
    expect((await stack.admin('GET', '/admin/api/config/versions')).body).toEqual(before.body);
  });

  it('no answer echoes the value of a configuration variable, in a validation error or in a diff', async () => {
    const secret = rgwSecret();
    const invalid = await call('/admin/api/config/diff', withBackend({}, { routing_strategy: '${RGW_SECRET_KEY}' }));
    expect(invalid.status).toBe(400);
    expect(invalid.text).toContain('got \\"${RGW_SECRET_KEY}\\"');
    expect(invalid.text).not.toContain(secret);
    const diff = await call('/admin/api/config/diff', withBackend({ region: '${RGW_SECRET_KEY}' }));
    expect(diff.status).toBe(200);
    expect(diff.text).toContain('"to":"${RGW_SECRET_KEY}"');
    expect(diff.text).not.toContain(secret);
  });
});

describe('tenant content cannot act on the admin API from the same origin', () => {
  it('every S3 response says nosniff; types a browser would execute are sandboxed, passive ones are not', async () => {
    const cases: [string, string, boolean][] = [
      ['page.html', 'text/html; charset=utf-8', true],
      ['drawing.svg', 'image/svg+xml', true],
      ['feed.xml', 'application/xml', true],
      ['app.js', 'text/javascript', true],
      ['odd.bin', 'application/x-unknown-thing', true],
      ['photo.png', 'image/png', false],
      ['notes.txt', 'text/plain', false],
    ];
    for (const [key, type, sandboxed] of cases) {
      await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: `web/${key}`, Body: '<script>fetch("/admin/api/config")</script>', ContentType: type }));
      for (const method of ['GET', 'HEAD']) {
        const response = await signer.fetch(`${stack.endpoint}/${stack.bucket}/web/${key}`, { method });
        await response.arrayBuffer();
        expect(response.headers.get('content-type'), key).toBe(type);
        expect(response.headers.get('x-content-type-options'), key).toBe('nosniff');
        const policy = response.headers.get('content-security-policy');
        if (sandboxed) expect(policy, `${method} ${key}`).toContain('sandbox');
        else expect(policy, `${method} ${key}`).toBeNull();
      }
    }
    const denied = await fetch(`${stack.endpoint}/${stack.bucket}/web/page.html`);
    expect(denied.status).toBe(403);
    expect(denied.headers.get('x-content-type-options')).toBe('nosniff');
    for (const [key] of cases) await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: `web/${key}` }));
  });

  it('state-changing admin calls need JSON and refuse a foreign Origin or a cross-site fetch', async () => {
    const before = await stack.admin('GET', '/admin/api/config/versions');
    const yaml = stringify(stack.deployedConfig());
    const push = (headers: Record<string, string>, body = JSON.stringify({ yaml })) =>
      fetch(`${stack.endpoint}/admin/api/config/versions`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, ...headers }, body });

    // What a cross-site form or simple fetch can send.
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const response = await push({ 'content-type': type });
      expect(response.status, type).toBe(415);
      expect(((await response.json()) as { error: string }).error).toContain('application/json');
    }
    expect((await push({})).status).toBe(415);
    const foreign = await push({ 'content-type': 'application/json', origin: 'https://tenant.example.com' });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: string }).error).toContain('cross-origin');
    expect((await push({ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await push({ 'content-type': 'application/json', 'sec-fetch-site': 'same-site' })).status).toBe(403);
    const drain = await fetch(`${stack.endpoint}/admin/api/backends/rgw/drain`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(drain.status).toBe(415);
    expect((await stack.admin('GET', '/admin/api/config/versions')).body).toEqual(before.body);

    // The admin API's own origin, and the CLI (no Origin at all), still work.
    const own = await fetch(`${stack.endpoint}/admin/api/config/diff`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json; charset=utf-8', origin: new URL(stack.endpoint).origin, 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ yaml }),
    });
    expect(own.status).toBe(200);
  });
});

describe('the health route', () => {
  it('opens at most one database connection per isolate for a burst of calls, not one per call', async () => {
    const before = stack.databaseConnections();
    // 100 calls at once: the old route opened 100 connections; one cached probe (2 s) serves them.
    const answers = await Promise.all(Array.from({ length: 100 }, async () => (await fetch(`${stack.endpoint}/health`)).text()));
    expect(new Set(answers)).toEqual(new Set(['ok']));
    expect(stack.databaseConnections() - before).toBeLessThan(10);
  });
});

describe('request limits', () => {
  it('stored content headers are capped like user metadata (MetadataTooLarge), and nothing is stored', async () => {
    const failure = await s3Failure(
      s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'long-headers', Body: 'x', ContentDisposition: `attachment; filename="${'a'.repeat(3000)}"` })),
    );
    expect(failure).toEqual({ code: 'MetadataTooLarge', status: 400 });
    const multipart = await s3Failure(
      s3.send(new CreateMultipartUploadCommand({ Bucket: stack.bucket, Key: 'long-headers', CacheControl: `max-age=${'9'.repeat(2100)}` })),
    );
    expect(multipart).toEqual({ code: 'MetadataTooLarge', status: 400 });
    expect(await everyBackendKey()).toEqual([]);
  });

  it('a credential scope for another region is refused, naming the orchestrator\'s region', async () => {
    const elsewhere = stack.client(stack.credentials[0], { region: 'eu-west-1' });
    const failure = await s3Failure(elsewhere.send(new ListObjectsV2Command({ Bucket: stack.bucket })));
    expect(failure).toEqual({ code: 'AuthorizationHeaderMalformed', status: 400 });
  });
});
