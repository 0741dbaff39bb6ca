/** Multipart uploads on the backends' native multipart API: real clients, every documented error, quota. */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyBytes, md5, randomBody, sha256 } from '../support/bytes.ts';
import { s3Failure } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({
    name: 'multipart',
    strategy: 'pack',
    maxMultipartUploads: 5,
    backends: [{ name: 'rgw', kind: 'radosgw', quotaBytes: 80 * MiB, faultProxy: true }],
  });
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

const s3 = () => stack.client(undefined, { maxAttempts: 1 });

/** S3's multipart ETag from the parts' bytes. */
function multipartEtag(parts: Buffer[]): string {
  const joined = Buffer.concat(parts.map((p) => createHash('md5').update(p).digest()));
  return `"${createHash('md5').update(joined).digest('hex')}-${parts.length}"`;
}

async function create(key: string): Promise<string> {
  return (await s3().send(new CreateMultipartUploadCommand({ Bucket: stack.bucket, Key: key }))).UploadId!;
}

async function part(key: string, uploadId: string, PartNumber: number, Body: Buffer) {
  return s3().send(new UploadPartCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, PartNumber, Body }));
}

describe('multipart with real clients', () => {
  it('lib-storage Upload (stream body, default checksums) round-trips byte for byte with an -N ETag', async () => {
    const body = randomBody(23 * MiB + 123);
    const upload = new Upload({
      client: stack.client(),
      params: { Bucket: stack.bucket, Key: 'mp/lib-storage.bin', Body: Readable.from([body]) },
      partSize: 5 * MiB,
      queueSize: 3,
    });
    const done = await upload.done();
    expect(done.ETag).toMatch(/^"[0-9a-f]{32}-5"$/);
    const got = await stack.client().send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'mp/lib-storage.bin' }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(body));
    expect(got.ETag).toBe(done.ETag);
    expect(await stack.query('select 1 from multipart_uploads')).toEqual([]);
  });

  it('the step by step API: re-uploading a part replaces it; listings; complete; S3 ETag', async () => {
    const key = 'mp/manual.bin';
    const uploadId = await create(key);
    const p1 = randomBody(5 * MiB);
    const p2old = randomBody(5 * MiB);
    const p2 = randomBody(5 * MiB);
    const p3 = randomBody(MiB + 7);
    const e1 = (await part(key, uploadId, 1, p1)).ETag!;
    await part(key, uploadId, 2, p2old);
    const e2 = (await part(key, uploadId, 2, p2)).ETag!;
    const e3 = (await part(key, uploadId, 3, p3)).ETag!;
    expect(e2).toBe(`"${md5(p2)}"`);
    // The replaced upload of part 2 no longer counts as in flight.
    expect(await stack.query('select part_number, size from multipart_parts where upload_id = $1 order by part_number', [uploadId])).toEqual([
      { part_number: 1, size: String(5 * MiB) },
      { part_number: 2, size: String(5 * MiB) },
      { part_number: 3, size: String(MiB + 7) },
    ]);

    const listed = await s3().send(new ListPartsCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, MaxParts: 2 }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, e1, 5 * MiB], [2, e2, 5 * MiB]]);
    expect(listed.IsTruncated).toBe(true);
    const rest = await s3().send(new ListPartsCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, PartNumberMarker: listed.NextPartNumberMarker }));
    expect(rest.Parts?.map((p) => p.PartNumber)).toEqual([3]);
    const uploads = await s3().send(new ListMultipartUploadsCommand({ Bucket: stack.bucket, Prefix: 'mp/' }));
    expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[key, uploadId]]);

    const done = await s3().send(
      new CompleteMultipartUploadCommand({
        Bucket: stack.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }, { PartNumber: 3, ETag: e3 }] },
      }),
    );
    expect(done.ETag).toBe(multipartEtag([p1, p2, p3]));
    const got = await s3().send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(Buffer.concat([p1, p2, p3])));
    const head = await s3().send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect(head.ContentLength).toBe(11 * MiB + 7);
    await stack.expectExactAccounting();
  });

  it('UploadPartCopy with ranges assembles a copy of another object', async () => {
    const source = randomBody(7 * MiB);
    await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'mp/source.bin', Body: source }));
    const key = 'mp/copied.bin';
    const uploadId = await create(key);
    const ranges = [`bytes=0-${5 * MiB - 1}`, `bytes=${5 * MiB}-${7 * MiB - 1}`];
    const etags = [];
    for (const [i, range] of ranges.entries()) {
      const out = await s3().send(
        new UploadPartCopyCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, PartNumber: i + 1, CopySource: `${stack.bucket}/mp/source.bin`, CopySourceRange: range }),
      );
      etags.push(out.CopyPartResult!.ETag!);
    }
    await s3().send(
      new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) } }),
    );
    const got = await s3().send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(source));
  });
});

describe('multipart errors', () => {
  it('part numbers outside 1..10000, and an upload id used for another key', async () => {
    const uploadId = await create('mp/err-numbers');
    for (const n of [0, 10001]) {
      expect(await s3Failure(part('mp/err-numbers', uploadId, n, Buffer.from('x')))).toEqual({ code: 'InvalidArgument', status: 400 });
    }
    expect(await s3Failure(part('mp/another-key', uploadId, 1, Buffer.from('x')))).toEqual({ code: 'NoSuchUpload', status: 404 });
    await s3().send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: 'mp/err-numbers', UploadId: uploadId }));
  });

  it('complete refuses unknown parts, wrong ETags, bad order, duplicates and small parts, and changes nothing', async () => {
    const key = 'mp/err-complete';
    const uploadId = await create(key);
    const e1 = (await part(key, uploadId, 1, randomBody(MiB))).ETag!;
    const e2 = (await part(key, uploadId, 2, randomBody(MiB))).ETag!;
    const complete = (Parts: { PartNumber: number; ETag: string }[]) =>
      s3().send(new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts } }));
    expect(await s3Failure(complete([{ PartNumber: 1, ETag: e1 }, { PartNumber: 3, ETag: e2 }]))).toEqual({ code: 'InvalidPart', status: 400 });
    expect(await s3Failure(complete([{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }]))).toEqual({ code: 'InvalidPart', status: 400 });
    expect(await s3Failure(complete([{ PartNumber: 2, ETag: e2 }, { PartNumber: 1, ETag: e1 }]))).toEqual({ code: 'InvalidPartOrder', status: 400 });
    expect(await s3Failure(complete([{ PartNumber: 1, ETag: e1 }, { PartNumber: 1, ETag: e1 }]))).toEqual({ code: 'InvalidPartOrder', status: 400 });
    expect(await s3Failure(complete([{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }]))).toEqual({ code: 'EntityTooSmall', status: 400 });
    expect(await stack.query('select 1 from objects where key = $1', [key])).toEqual([]);
    await s3().send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId }));
    // A single small part is a valid (last) part.
    const single = await create(key);
    const only = (await part(key, single, 1, randomBody(MiB))).ETag!;
    await s3().send(new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: single, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: only }] } }));
    expect((await s3().send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }))).ContentLength).toBe(MiB);
  });

  it('completing an aborted upload, and malformed XML', async () => {
    const key = 'mp/err-aborted';
    const uploadId = await create(key);
    const e1 = (await part(key, uploadId, 1, randomBody(1000))).ETag!;
    const aws = await import('aws4fetch');
    const client = new aws.AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1' });
    const bad = await client.fetch(`${stack.endpoint}/${stack.bucket}/${key}?uploadId=${uploadId}`, { method: 'POST', body: '<CompleteMultipartUpload><Part>' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('<Code>MalformedXML</Code>');
    await s3().send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId }));
    expect(
      await s3Failure(
        s3().send(new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1 }] } })),
      ),
    ).toEqual({ code: 'NoSuchUpload', status: 404 });
    expect(await s3Failure(s3().send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId })))).toEqual({
      code: 'NoSuchUpload',
      status: 404,
    });
  });

  it('UploadPartCopy: a range outside the source is InvalidRange (416), a malformed one InvalidArgument (400)', async () => {
    // https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html - x-amz-copy-source-range is
    // bytes=first-last within the source; https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
    await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'mp/range-source', Body: randomBody(1000) }));
    const key = 'mp/range-target';
    const uploadId = await create(key);
    const copy = (CopySourceRange: string) =>
      s3().send(new UploadPartCopyCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, PartNumber: 1, CopySource: `${stack.bucket}/mp/range-source`, CopySourceRange }));
    for (const range of ['bytes=0-1000', 'bytes=990-2000', 'bytes=1000-1001']) {
      expect(await s3Failure(copy(range))).toEqual({ code: 'InvalidRange', status: 416 });
    }
    for (const range of ['bytes=5-2', 'bytes=0-', 'bytes=-5', '0-10']) {
      expect(await s3Failure(copy(range))).toEqual({ code: 'InvalidArgument', status: 400 });
    }
    expect((await copy('bytes=0-999')).CopyPartResult?.ETag).toMatch(/^"[0-9a-f]{32}"$/);
    await s3().send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId }));
  });

  it('If-None-Match: * on complete refuses to overwrite', async () => {
    await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'mp/exists', Body: 'here' }));
    const uploadId = await create('mp/exists');
    const e1 = (await part('mp/exists', uploadId, 1, randomBody(100))).ETag!;
    expect(
      await s3Failure(
        s3().send(
          new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: 'mp/exists', UploadId: uploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1 }] } }),
        ),
      ),
    ).toEqual({ code: 'PreconditionFailed', status: 412 });
    const got = await s3().send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'mp/exists' }));
    expect(await got.Body?.transformToString()).toBe('here');
    await s3().send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: 'mp/exists', UploadId: uploadId }));
  });
});

describe('a part uploaded twice', () => {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html: "If you upload a new part using the same
  // part number that was used with a previous part, the previously uploaded part is overwritten." Of two uploads
  // that overlap, the one that finishes last at the storage is the part, whenever its answer reaches the client.
  it('the upload that finished last at the backend is the part: ListParts names it, complete accepts its ETag, the other stops counting as in flight', async () => {
    const key = 'mp/overlap.bin';
    const uploadId = await create(key);
    const early = randomBody(5 * MiB);
    const late = randomBody(5 * MiB + 1);
    const proxy = stack.fault('rgw');
    // The first upload reaches the backend, but its answer (and so its record) is held back until the second is done.
    proxy.setMode('hold-answer', 0, { methods: ['PUT'], times: 1 });
    const first = part(key, uploadId, 1, early);
    for (let waited = 0; proxy.held() === 0; waited++) {
      if (waited > 3000) throw new Error('the first part upload never reached the backend');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const second = await part(key, uploadId, 1, late);
    proxy.setMode('pass');
    const firstEtag = (await first).ETag!;
    expect([firstEtag, second.ETag]).toEqual([`"${md5(early)}"`, `"${md5(late)}"`]);

    const listed = await s3().send(new ListPartsCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([[1, second.ETag, late.length]]);
    expect(await stack.query('select size from multipart_parts where upload_id = $1', [uploadId])).toEqual([{ size: String(late.length) }]);

    const tail = randomBody(100);
    const e2 = (await part(key, uploadId, 2, tail)).ETag!;
    const complete = (ETag: string) =>
      s3().send(new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }, { PartNumber: 2, ETag: e2 }] } }));
    expect(await s3Failure(complete(firstEtag))).toEqual({ code: 'InvalidPart', status: 400 });
    const before = (await stack.accounting())[0]!.bytesUsed;
    const done = await complete(second.ETag!);
    expect(done.ETag).toBe(multipartEtag([late, tail]));
    expect((await stack.accounting())[0]!.bytesUsed).toBe(before + late.length + tail.length);
    const got = await s3().send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(Buffer.concat([late, tail])));
    await stack.expectExactAccounting();
  });
});

describe('a completion repeated', () => {
  // https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html: a client whose completion
  // response was lost retries it; S3 answers the retry with the completed upload's result.
  async function uploadTwoParts(key: string) {
    const uploadId = await create(key);
    const bodies = [randomBody(5 * MiB), randomBody(1000)];
    const parts: { PartNumber: number; ETag: string }[] = [];
    for (const [i, body] of bodies.entries()) parts.push({ PartNumber: i + 1, ETag: (await part(key, uploadId, i + 1, body)).ETag! });
    const complete = () => s3().send(new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    return { uploadId, bodies, complete };
  }
  const recordOf = (key: string) =>
    stack.query('select o.version, o.etag, o.created_at, l.physical_key, l.stored_size from objects o join object_locations l using (bucket, key) where o.key = $1', [key]);

  it('answers 200 with the same Location, Bucket, Key and ETag, and records nothing again', async () => {
    const key = 'mp/again.bin';
    const { uploadId, bodies, complete } = await uploadTwoParts(key);
    const first = await complete();
    expect(first.ETag).toBe(multipartEtag(bodies));
    const record = await recordOf(key);
    const accounting = await stack.accounting();
    for (let i = 0; i < 2; i++) {
      const again = await complete();
      expect([again.Location, again.Bucket, again.Key, again.ETag]).toEqual([first.Location, first.Bucket, first.Key, first.ETag]);
    }
    expect(await recordOf(key)).toEqual(record);
    expect(await stack.accounting()).toEqual(accounting);
    const got = await s3().send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(Buffer.concat(bodies)));
    // The upload id stays bound to its key.
    expect(
      await s3Failure(s3().send(new CompleteMultipartUploadCommand({ Bucket: stack.bucket, Key: 'mp/other', UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: first.ETag! }] } }))),
    ).toEqual({ code: 'NoSuchUpload', status: 404 });
    // The result is kept with the object it made: once that object is replaced, the upload is gone.
    expect(await stack.query('select part_number, first_byte, size from object_parts where key = $1 order by part_number', [key])).toEqual([
      { part_number: 1, first_byte: '0', size: String(5 * MiB) },
      { part_number: 2, first_byte: String(5 * MiB), size: '1000' },
    ]);
    await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: 'replaced' }));
    expect(await s3Failure(complete())).toEqual({ code: 'NoSuchUpload', status: 404 });
    expect(await stack.query('select 1 from object_parts where key = $1', [key])).toEqual([]);
    await stack.expectExactAccounting();
  });

  it('two completions of one upload at once record the object once; each answers its ETag (or a retryable 503 that a retry turns into it)', async () => {
    const key = 'mp/twice-at-once.bin';
    const { bodies, complete } = await uploadTwoParts(key);
    const outcomes = await Promise.allSettled([complete(), complete()]);
    const etag = multipartEtag(bodies);
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') expect(outcome.value.ETag).toBe(etag);
      else expect(await s3Failure(Promise.reject(outcome.reason as Error))).toEqual({ code: 'ServiceUnavailable', status: 503 });
    }
    expect((await complete()).ETag).toBe(etag);
    expect(await recordOf(key)).toHaveLength(1);
    const got = await s3().send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }));
    expect(sha256(await bodyBytes(got.Body))).toBe(sha256(Buffer.concat(bodies)));
    expect(await stack.query("select 1 from cleanup_queue")).toEqual([]);
    await stack.expectExactAccounting();
  });
});

describe('multipart and quota', () => {
  it('in-flight parts reserve space until abort; the bucket cap on active uploads holds', async () => {
    const leftovers = await s3().send(new ListMultipartUploadsCommand({ Bucket: stack.bucket }));
    for (const u of leftovers.Uploads ?? []) await s3().send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: u.Key, UploadId: u.UploadId }));
    const used = (await stack.accounting())[0]!.bytesUsed;
    const free = 80 * MiB - used;
    const uploadId = await create('mp/inflight');
    await part('mp/inflight', uploadId, 1, randomBody(free - 2 * MiB));
    expect(await s3Failure(s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'mp/blocked', Body: randomBody(3 * MiB) })))).toEqual({
      code: 'InsufficientStorage',
      status: 507,
    });
    expect(await s3Failure(part('mp/inflight', uploadId, 2, randomBody(3 * MiB)))).toEqual({ code: 'InsufficientStorage', status: 507 });
    await s3().send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: 'mp/inflight', UploadId: uploadId }));
    await s3().send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'mp/blocked', Body: randomBody(3 * MiB) }));

    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await create(`mp/cap-${i}`));
    expect(await s3Failure(s3().send(new CreateMultipartUploadCommand({ Bucket: stack.bucket, Key: 'mp/cap-6' })))).toEqual({ code: 'SlowDown', status: 503 });
    for (const [i, id] of ids.entries()) await s3().send(new AbortMultipartUploadCommand({ Bucket: stack.bucket, Key: `mp/cap-${i}`, UploadId: id }));
  });
});
