/** PutObject, GetObject (with ranges), HeadObject, DeleteObject and listings against the real Worker. */
import {
  DeleteObjectCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { request as httpRequest } from 'node:http';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, md5, randomBody, sha256 } from '../support/bytes.ts';
import { s3Failure, xmlError } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

let stack: TestStack;
let s3: S3Client;

beforeAll(async () => {
  stack = await startTestStack({
    name: 'objects',
    strategy: 'spread',
    baseDomains: ['s3.test.internal'],
    backends: [
      { name: 'rgw', kind: 'radosgw', quotaBytes: 1024 ** 3 },
      { name: 'local', kind: 's3rver', quotaBytes: 1024 ** 3 },
    ],
  });
  s3 = stack.client();
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

describe('bucket operations', () => {
  it('ListBuckets shows only the credential bucket; HeadBucket and GetBucketLocation answer', async () => {
    const buckets = await s3.send(new ListBucketsCommand({}));
    expect(buckets.Buckets?.map((b) => b.Name)).toEqual([stack.bucket]);
    const head = await s3.send(new HeadBucketCommand({ Bucket: stack.bucket }));
    expect(head.$metadata.httpStatusCode).toBe(200);
    const location = await s3.send(new GetBucketLocationCommand({ Bucket: stack.bucket }));
    expect(location.LocationConstraint ?? '').toBe('');
  });

  it('answers /health with ok and puts a request id on every response', async () => {
    const health = await fetch(`${stack.endpoint}/health`);
    expect(await health.text()).toBe('ok');
    const anonymous = await fetch(`${stack.endpoint}/${stack.bucket}/x`);
    expect(anonymous.headers.get('x-amz-request-id')).toMatch(/^[0-9A-F]{16}$/);
  });
});

describe('objects', () => {
  it('round-trips bytes, metadata and content headers; ETag is the MD5 of the bytes', async () => {
    const body = randomBody(300_000);
    const put = await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucket,
        Key: 'docs/report.pdf',
        Body: body,
        ContentType: 'application/pdf',
        CacheControl: 'max-age=60',
        ContentDisposition: 'attachment; filename="report.pdf"',
        ContentLanguage: 'en',
        Metadata: { author: 'Ada', 'project-id': '42' },
      }),
    );
    expect(put.ETag).toBe(`"${md5(body)}"`);

    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'docs/report.pdf' }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
    expect(got).toMatchObject({
      ETag: put.ETag,
      ContentType: 'application/pdf',
      ContentLength: body.length,
      CacheControl: 'max-age=60',
      ContentDisposition: 'attachment; filename="report.pdf"',
      ContentLanguage: 'en',
      Metadata: { author: 'Ada', 'project-id': '42' },
    });

    const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'docs/report.pdf' }));
    expect(head).toMatchObject({ ETag: put.ETag, ContentLength: body.length, ContentType: 'application/pdf' });
    expect(head.LastModified).toBeInstanceOf(Date);
  });

  it('streams a 40 MiB object both ways byte for byte, spread over the backends', async () => {
    const body = randomBody(40 * 1024 * 1024);
    for (const key of ['big/one.bin', 'big/two.bin']) {
      await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
      expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
    }
    const placements = await stack.query<{ backend_name: string }>(
      "select backend_name from object_locations where key like 'big/%' order by backend_name",
    );
    expect(placements.map((p) => p.backend_name)).toEqual(['local', 'rgw']);
  });

  it('stores an empty object and keys with unusual characters', async () => {
    const keys = ['empty', 'sp ace/é+tilde~!(x)*.txt', 'percent%2Fliteral', 'deep/a/b/c/d.txt'];
    for (const key of keys) {
      const body = key === 'empty' ? Buffer.alloc(0) : Buffer.from(`content of ${key}`);
      await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
      expect(Buffer.from(await bodyBytes(got.Body)).toString()).toBe(body.toString());
    }
  });

  it('serves ranges as 206 with Content-Range, and 416 InvalidRange past the end', async () => {
    const body = Buffer.from('0123456789abcdefghij');
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'range.txt', Body: body }));
    const cases: [string, string, string][] = [
      ['bytes=0-4', '01234', 'bytes 0-4/20'],
      ['bytes=15-', 'fghij', 'bytes 15-19/20'],
      ['bytes=-3', 'hij', 'bytes 17-19/20'],
      ['bytes=18-100', 'ij', 'bytes 18-19/20'],
    ];
    for (const [range, expected, contentRange] of cases) {
      const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'range.txt', Range: range }));
      expect(got.$metadata.httpStatusCode).toBe(206);
      expect(got.ContentRange).toBe(contentRange);
      expect(Buffer.from(await bodyBytes(got.Body)).toString()).toBe(expected);
    }
    expect(await s3Failure(s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'range.txt', Range: 'bytes=20-' })))).toEqual({
      code: 'InvalidRange',
      status: 416,
    });
  });

  it('overwrites: the new version wins and the old copy leaves the backend', async () => {
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'over.txt', Body: 'first version' }));
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'over.txt', Body: 'second' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'over.txt' }));
    expect(Buffer.from(await bodyBytes(got.Body)).toString()).toBe('second');
    const physical = [...(await stack.backendKeys('rgw')), ...(await stack.backendKeys('local'))].filter((k) =>
      k.startsWith(`${stack.bucket}/over.txt~`),
    );
    expect(physical).toHaveLength(1);
    await stack.expectExactAccounting();
  });

  it('keeps reads whole while the key is overwritten: every GET returns one complete version with its own ETag', async () => {
    const versions = Array.from({ length: 5 }, () => randomBody(64 * 1024));
    const etags = new Map(versions.map((v) => [`"${md5(v)}"`, sha256(v)]));
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'busy.bin', Body: versions[0] }));
    const reads = Array.from({ length: 16 }, async () => {
      const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'busy.bin' }));
      return { etag: got.ETag ?? '', digest: sha256(await bodyBytes(got.Body)) };
    });
    const writes = versions.slice(1).map((Body) => s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'busy.bin', Body })));
    const [readResults] = await Promise.all([Promise.all(reads), Promise.all(writes)]);
    for (const read of readResults) expect(etags.get(read.etag)).toBe(read.digest);
    await stack.expectExactAccounting();
  });

  it('deletes idempotently and answers NoSuchKey afterwards', async () => {
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'gone.txt', Body: 'bye' }));
    const first = await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: 'gone.txt' }));
    expect(first.$metadata.httpStatusCode).toBe(204);
    const again = await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: 'gone.txt' }));
    expect(again.$metadata.httpStatusCode).toBe(204);
    expect(await s3Failure(s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'gone.txt' })))).toEqual({
      code: 'NoSuchKey',
      status: 404,
    });
    expect((await s3Failure(s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'gone.txt' })))).status).toBe(404);
    const physical = [...(await stack.backendKeys('rgw')), ...(await stack.backendKeys('local'))];
    expect(physical.filter((k) => k.startsWith(`${stack.bucket}/gone.txt~`))).toEqual([]);
  });

  it('refuses oversize metadata with MetadataTooLarge and stores nothing', async () => {
    expect(
      await s3Failure(
        s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'meta.txt', Body: 'x', Metadata: { big: 'v'.repeat(2100) } })),
      ),
    ).toEqual({ code: 'MetadataTooLarge', status: 400 });
    const rows = await stack.query("select 1 from objects where key = 'meta.txt'");
    expect(rows).toEqual([]);
  });

  it('refuses unsupported operations by name, and bad listing arguments', async () => {
    const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
    const acl = await aws.fetch(`${stack.endpoint}/${stack.bucket}/docs/report.pdf?tagging`);
    expect(await xmlError(acl)).toEqual({ status: 501, code: 'NotImplemented' });
    const create = await aws.fetch(`${stack.endpoint}/${stack.bucket}`, { method: 'PUT' });
    expect(await xmlError(create)).toEqual({ status: 501, code: 'NotImplemented' });
    const post = await aws.fetch(`${stack.endpoint}/${stack.bucket}/docs/report.pdf`, { method: 'POST' });
    expect(await xmlError(post)).toEqual({ status: 405, code: 'MethodNotAllowed' });
    expect(await s3Failure(s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, MaxKeys: -1 })))).toEqual({
      code: 'InvalidArgument',
      status: 400,
    });
  });
});

describe('addressing and bucket sub-resources', () => {
  it('accepts virtual-hosted-style requests under a configured base domain', async () => {
    const port = new URL(stack.endpoint).port;
    const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
    const virtualUrl = `http://${stack.bucket}.s3.test.internal:${port}/vhost/hello.txt`;
    const put = await aws.sign(virtualUrl, { method: 'PUT', body: 'virtual', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    expect((await sendTo127(put, 'virtual')).status).toBe(200);
    const get = await aws.sign(virtualUrl, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const got = await sendTo127(get);
    expect(got).toEqual({ status: 200, body: 'virtual' });
    // And the same object path style.
    const viaPath = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'vhost/hello.txt' }));
    expect(await viaPath.Body?.transformToString()).toBe('virtual');
  });

  it('a virtual-hosted bucket owns every path: keys named metrics, health and admin/... are objects, not routes', async () => {
    const port = new URL(stack.endpoint).port;
    const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
    for (const key of ['metrics', 'health', 'admin', 'admin/api/status', 'admin/api/config/versions']) {
      const url = `http://${stack.bucket}.s3.test.internal:${port}/${key}`;
      const put = await aws.sign(url, { method: 'PUT', body: `object ${key}`, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
      expect((await sendTo127(put, `object ${key}`)).status, key).toBe(200);
      const got = await sendTo127(await aws.sign(url, { headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }));
      expect(got, key).toEqual({ status: 200, body: `object ${key}` });
      // Unsigned, it is S3 that refuses it, not an orchestrator route.
      const anonymous = await sendTo127(new Request(url));
      expect(anonymous.status, key).toBe(403);
      expect(anonymous.body, key).toContain('<Code>AccessDenied</Code>');
      expect((await sendTo127(await aws.sign(url, { method: 'DELETE', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }))).status).toBe(204);
    }
    // Path style on the base domain itself, the reserved names are the orchestrator's.
    expect(await (await fetch(`${stack.endpoint}/health`)).text()).toBe('ok');
    expect((await fetch(`${stack.endpoint}/metrics`)).headers.get('content-type')).toContain('application/json');
  });

  it('never serves another key\'s bytes, whatever a copy record says', async () => {
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'crossed/mine.txt', Body: 'mine' }));
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'crossed/theirs.txt', Body: 'theirs, not yours' }));
    // A faulty record (as a database that crossed two requests' answers would produce): mine's copy row names
    // theirs' bytes.
    const [theirs] = await stack.query<{ physical_key: string; backend_name: string }>(
      "select physical_key, backend_name from object_locations where bucket = $1 and key = 'crossed/theirs.txt'",
      [stack.bucket],
    );
    const [mine] = await stack.query<{ physical_key: string; backend_name: string }>(
      "select physical_key, backend_name from object_locations where bucket = $1 and key = 'crossed/mine.txt'",
      [stack.bucket],
    );
    await stack.query("update object_locations set physical_key = $2, backend_name = $3 where bucket = $1 and key = 'crossed/mine.txt'", [
      stack.bucket,
      theirs!.physical_key,
      theirs!.backend_name,
    ]);
    const failure = await s3Failure(stack.client(undefined, { maxAttempts: 1 }).send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'crossed/mine.txt' })));
    expect(failure.status).toBe(500);
    const got = await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'crossed/theirs.txt' }));
    expect(await got.Body?.transformToString()).toBe('theirs, not yours');
    // Put the record back (the accounting check at the end of the file reads it).
    await stack.query("update object_locations set physical_key = $2, backend_name = $3 where bucket = $1 and key = 'crossed/mine.txt'", [
      stack.bucket,
      mine!.physical_key,
      mine!.backend_name,
    ]);
  });

  it('reports versioning as never enabled, and the owner with fetch-owner', async () => {
    const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
    const versioning = await aws.fetch(`${stack.endpoint}/${stack.bucket}?versioning`);
    expect(versioning.status).toBe(200);
    expect(await versioning.text()).toContain('<VersioningConfiguration');
    const page = await s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'docs/', FetchOwner: true }));
    expect(page.Contents?.[0]?.Owner?.ID).toBe('s3-orchestrator');
  });
});

/** Sends a signed request to the Worker on 127.0.0.1 with the Host it was signed for (no DNS needed). */
function sendTo127(signed: Request, body?: string): Promise<{ status: number; body: string }> {
  const url = new URL(signed.url);
  const headers: Record<string, string> = { host: url.host };
  signed.headers.forEach((value, name) => (headers[name] = value));
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: Number(url.port), method: signed.method, path: url.pathname + url.search, headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('listing', () => {
  const keys = ['list/a.txt', 'list/b/1.txt', 'list/b/2.txt', 'list/c/1.txt', 'list/d.txt', 'list/é.txt', 'list/z.txt', 'list/~.txt'];

  beforeAll(async () => {
    await Promise.all(keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key, Body: Key }))));
  });

  it('lists in byte order with prefix, sizes and ETags', async () => {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'list/' }));
    // UTF-8 byte order: '~' (0x7E) sorts before 'é' (0xC3 0xA9).
    expect(page.Contents?.map((c) => c.Key)).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
    expect(page.Contents?.[0]).toMatchObject({ Size: 'list/a.txt'.length, ETag: `"${md5(Buffer.from('list/a.txt'))}"` });
    expect(page.KeyCount).toBe(keys.length);
    expect(page.IsTruncated).toBe(false);
  });

  it('groups by delimiter, counting each common prefix once against max-keys', async () => {
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'list/', Delimiter: '/', MaxKeys: 2, ContinuationToken: token }),
      );
      pages++;
      seen.push(...(page.Contents ?? []).map((c) => c.Key ?? ''), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''));
      expect((page.KeyCount ?? 0) <= 2).toBe(true);
      token = page.NextContinuationToken;
    } while (token);
    expect(seen.sort()).toEqual(['list/a.txt', 'list/b/', 'list/c/', 'list/d.txt', 'list/z.txt', 'list/~.txt', 'list/é.txt'].sort());
    expect(pages).toBe(4);
  });

  it('starts after a key and supports ListObjects v1 markers', async () => {
    const after = await s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'list/', StartAfter: 'list/c/1.txt' }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(['list/d.txt', 'list/z.txt', 'list/~.txt', 'list/é.txt']);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: stack.bucket, Prefix: 'list/', Delimiter: '/', MaxKeys: 2 }));
    expect(v1.IsTruncated).toBe(true);
    const next = await s3.send(new ListObjectsCommand({ Bucket: stack.bucket, Prefix: 'list/', Delimiter: '/', Marker: v1.NextMarker }));
    expect([...(next.Contents ?? []).map((c) => c.Key), ...(next.CommonPrefixes ?? []).map((p) => p.Prefix)]).toEqual(
      expect.arrayContaining(['list/c/', 'list/d.txt']),
    );
    expect(next.CommonPrefixes?.map((p) => p.Prefix)).not.toContain('list/b/');
  });

  it('refuses a forged continuation token', async () => {
    expect(await s3Failure(s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, ContinuationToken: 'not-a-token!' })))).toEqual({
      code: 'InvalidArgument',
      status: 400,
    });
  });
});
