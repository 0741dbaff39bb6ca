/**
 * S3 behaviours written from the AWS API reference: listing encodings, continuation tokens, ACLs, stored content
 * encodings, bodies without a length, and checksum mismatches.
 */
import { Readable } from 'node:stream';
import {
  GetBucketAclCommand,
  GetObjectAclCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutObjectAclCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Failure, xmlError } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

let stack: TestStack;
let aws: AwsClient;

beforeAll(async () => {
  stack = await startTestStack({ name: 'conformance', backends: [{ name: 'rgw', kind: 'radosgw' }] });
  aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
  const s3 = stack.client();
  for (const key of ['enc/a\nb/1', 'enc/a\nb/2', 'enc/c\rd', 'enc/plain', 'enc/sp ace+plus']) {
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: key }));
  }
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

/** A signed request straight to the Worker; `query` is appended as written. */
async function signed(method: string, path: string, init: { headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
  return aws.fetch(`${stack.endpoint}/${stack.bucket}${path}`, { method, ...init });
}

/** Every text of an element, entities resolved as an XML parser would (line ends normalized first). */
function texts(xml: string, element: string): string[] {
  const normalized = xml.replace(/\r\n?/g, '\n');
  return [...normalized.matchAll(new RegExp(`<${element}>([^<]*)</${element}>`, 'g'))].map((m) =>
    (m[1] ?? '').replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))).replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'),
  );
}

describe('encoding-type', () => {
  it('without encoding-type, keys, prefixes and delimiters come back raw, newlines and carriage returns included', async () => {
    for (const v2 of [true, false]) {
      const listType = v2 ? 'list-type=2&' : '';
      const answer = await signed('GET', `?${listType}prefix=${encodeURIComponent('enc/')}&delimiter=${encodeURIComponent('\n')}`);
      expect(answer.status).toBe(200);
      const xml = await answer.text();
      expect(xml).not.toContain('EncodingType');
      expect(texts(xml, 'Prefix')).toEqual(['enc/', 'enc/a\n']);
      expect(texts(xml, 'Delimiter')).toEqual(['\n']);
      expect(texts(xml, 'Key')).toEqual(['enc/c\rd', 'enc/plain', 'enc/sp ace+plus']);
    }
  });

  it('with encoding-type=url, exactly those fields come back URL-encoded, and the answer says so', async () => {
    const answer = await signed('GET', `?list-type=2&encoding-type=url&prefix=enc%2F&delimiter=%0A&start-after=${encodeURIComponent('enc/\n')}`);
    const xml = await answer.text();
    expect(texts(xml, 'EncodingType')).toEqual(['url']);
    expect(texts(xml, 'Prefix')).toEqual(['enc/', 'enc/a%0A']);
    expect(texts(xml, 'Delimiter')).toEqual(['%0A']);
    expect(texts(xml, 'StartAfter')).toEqual(['enc/%0A']);
    expect(texts(xml, 'Key')).toEqual(['enc/c%0Dd', 'enc/plain', 'enc/sp%20ace%2Bplus']);
    const v1 = await (await signed('GET', `?encoding-type=url&prefix=enc%2F&marker=${encodeURIComponent('enc/a\nb/1')}&max-keys=1`)).text();
    expect(texts(v1, 'Marker')).toEqual(['enc/a%0Ab/1']);
    expect(texts(v1, 'NextMarker')).toEqual(['enc/a%0Ab/2']);
    expect(texts(v1, 'Key')).toEqual(['enc/a%0Ab/2']);
  });

  it('the SDK, which asks for url encoding and decodes, sees the keys as written', async () => {
    const s3 = stack.client();
    const v2 = await s3.send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: 'enc/', Delimiter: '\n' }));
    expect(v2.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['enc/a\n']);
    expect(v2.Contents?.map((o) => o.Key)).toEqual(['enc/c\rd', 'enc/plain', 'enc/sp ace+plus']);
    const v1 = await s3.send(new ListObjectsCommand({ Bucket: stack.bucket, Prefix: 'enc/' }));
    expect(v1.Contents?.map((o) => o.Key)).toEqual(['enc/a\nb/1', 'enc/a\nb/2', 'enc/c\rd', 'enc/plain', 'enc/sp ace+plus']);
  });

  it('refuses an encoding-type other than url', async () => {
    expect(await xmlError(await signed('GET', '?list-type=2&encoding-type=base64'))).toEqual({ status: 400, code: 'InvalidArgument' });
  });
});

describe('continuation-token', () => {
  it('an empty continuation-token lists from the start (after start-after) and is echoed', async () => {
    const xml = await (await signed('GET', '?list-type=2&prefix=enc%2F&continuation-token=&max-keys=2')).text();
    expect(xml).toMatch(/<ContinuationToken><\/ContinuationToken>/);
    expect(texts(xml, 'Key')).toEqual(['enc/a\nb/1', 'enc/a\nb/2']);
    const after = await (await signed('GET', `?list-type=2&prefix=enc%2F&continuation-token=&start-after=${encodeURIComponent('enc/c\rd')}`)).text();
    expect(texts(after, 'Key')).toEqual(['enc/plain', 'enc/sp ace+plus']);
  });
});

describe('ACLs', () => {
  const s3 = () => stack.client(undefined, { maxAttempts: 1 });

  it('GetBucketAcl and GetObjectAcl answer the canned private ACL: the owner with FULL_CONTROL', async () => {
    for (const acl of [
      await s3().send(new GetBucketAclCommand({ Bucket: stack.bucket })),
      await s3().send(new GetObjectAclCommand({ Bucket: stack.bucket, Key: 'enc/plain' })),
    ]) {
      expect(acl.Owner?.ID).toBe('s3-orchestrator');
      expect(acl.Grants).toEqual([{ Grantee: { Type: 'CanonicalUser', ID: 's3-orchestrator', DisplayName: 's3-orchestrator' }, Permission: 'FULL_CONTROL' }]);
    }
    expect(await s3Failure(s3().send(new GetObjectAclCommand({ Bucket: stack.bucket, Key: 'enc/missing' })))).toEqual({ code: 'NoSuchKey', status: 404 });
  });

  it('PutObjectAcl and PutBucketAcl accept the canned private ACL as a no-op and refuse anything else with NotImplemented', async () => {
    await s3().send(new PutObjectAclCommand({ Bucket: stack.bucket, Key: 'enc/plain', ACL: 'private' }));
    await s3().send(new PutBucketAclCommand({ Bucket: stack.bucket, ACL: 'private' }));
    const notImplemented = { code: 'NotImplemented', status: 501 };
    expect(await s3Failure(s3().send(new PutObjectAclCommand({ Bucket: stack.bucket, Key: 'enc/plain', ACL: 'public-read' })))).toEqual(notImplemented);
    expect(await s3Failure(s3().send(new PutBucketAclCommand({ Bucket: stack.bucket, ACL: 'public-read-write' })))).toEqual(notImplemented);
    expect(await s3Failure(s3().send(new PutObjectAclCommand({ Bucket: stack.bucket, Key: 'enc/plain', GrantRead: 'uri="http://acs.amazonaws.com/groups/global/AllUsers"' })))).toEqual(notImplemented);
    const policy = await s3Failure(
      s3().send(
        new PutObjectAclCommand({
          Bucket: stack.bucket,
          Key: 'enc/plain',
          AccessControlPolicy: { Owner: { ID: 'x' }, Grants: [{ Grantee: { Type: 'Group', URI: 'http://acs.amazonaws.com/groups/global/AllUsers' }, Permission: 'READ' }] },
        }),
      ),
    );
    expect(policy).toEqual(notImplemented);
    expect(await s3Failure(s3().send(new PutObjectAclCommand({ Bucket: stack.bucket, Key: 'enc/missing', ACL: 'private' })))).toEqual({ code: 'NoSuchKey', status: 404 });
    // Still readable only with a signature.
    expect((await fetch(`${stack.endpoint}/${stack.bucket}/enc/plain`)).status).toBe(403);
  });
});

describe('uploads', () => {
  it('stores the content encodings a client named, without the aws-chunked transfer framing', async () => {
    const s3 = stack.client();
    const body = Buffer.from('compressed, notionally');
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'ce/gzip', Body: Readable.from([body]), ContentLength: body.length, ContentEncoding: 'gzip' }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'ce/gzip' }));
    expect(head.ContentEncoding).toBe('gzip');
    // A stream body goes up as aws-chunked: the SDK lists that framing after the client's coding.
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'ce/br', Body: Readable.from([body]), ContentLength: body.length, ContentEncoding: 'br' }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'ce/br' }))).ContentEncoding).toBe('br');
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'ce/none', Body: Readable.from([body]), ContentLength: body.length }));
    expect((await s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: 'ce/none' }))).ContentEncoding).toBeUndefined();
  });

  it('a PUT with Transfer-Encoding: chunked and no length answers as S3 does: 501 NotImplemented naming the header', async () => {
    const url = `${stack.endpoint}/${stack.bucket}/te/chunked`;
    const request = await aws.sign(url, { method: 'PUT', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('no length given'));
        controller.close();
      },
    });
    const answer = await fetch(url, { method: 'PUT', headers: request.headers, body: stream, duplex: 'half' } as RequestInit);
    const text = await answer.text();
    expect(answer.status).toBe(501);
    expect(text).toContain('<Code>NotImplemented</Code>');
    expect(text).toContain('<Header>Transfer-Encoding</Header>');
    expect(await stack.query("select 1 from objects where key = 'te/chunked'")).toEqual([]);
  });

  it('a checksum that does not match the body, or cannot be a digest, or names another algorithm than the SDK says, is BadDigest', async () => {
    const s3 = stack.client(undefined, { maxAttempts: 1 });
    const badDigest = { code: 'BadDigest', status: 400 };
    const wrong = Buffer.alloc(32, 7).toString('base64');
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'sum/wrong', Body: 'body', ChecksumSHA256: wrong })))).toEqual(badDigest);
    expect(await s3Failure(s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'sum/short', Body: 'body', ChecksumSHA256: 'bad' })))).toEqual(badDigest);
    const crossed = await signed('PUT', '/sum/crossed', {
      headers: { 'x-amz-sdk-checksum-algorithm': 'CRC32', 'x-amz-checksum-sha256': wrong, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      body: 'body',
    });
    expect(await xmlError(crossed)).toEqual({ status: 400, code: 'BadDigest' });
    expect(await stack.query("select 1 from objects where key like 'sum/%'")).toEqual([]);
  });
});
