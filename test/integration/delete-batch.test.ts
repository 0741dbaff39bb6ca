/** DeleteObjects: up to 1000 keys, quiet mode, per-key results, integrity headers, malformed bodies. */
import { createHash } from 'node:crypto';
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3Failure, xmlError } from '../support/s3-errors.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack({ name: 'deletebatch', backends: [{ name: 'rgw', kind: 'radosgw' }, { name: 'local', kind: 's3rver' }], strategy: 'spread' });
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

async function putMany(prefix: string, count: number): Promise<string[]> {
  const s3 = stack.client();
  const keys = Array.from({ length: count }, (_, i) => `${prefix}/${String(i).padStart(4, '0')}`);
  for (let i = 0; i < keys.length; i += 20) {
    await Promise.all(keys.slice(i, i + 20).map((Key) => s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key, Body: Key }))));
  }
  return keys;
}

async function remaining(prefix: string): Promise<number> {
  const page = await stack.client().send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: `${prefix}/` }));
  return page.KeyCount ?? 0;
}

function rawDelete(xml: string, headers: Record<string, string>) {
  const aws = new AwsClient({ ...stack.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
  return aws.fetch(`${stack.endpoint}/${stack.bucket}?delete`, { method: 'POST', body: xml, headers });
}

const md5 = (text: string) => createHash('md5').update(text).digest('base64');

describe('DeleteObjects', () => {
  it('deletes many keys (missing ones count as deleted) and reports each, with the SDK defaults', async () => {
    const keys = await putMany('batch', 150);
    const out = await stack.client().send(
      new DeleteObjectsCommand({ Bucket: stack.bucket, Delete: { Objects: [...keys, 'batch/never-existed'].map((Key) => ({ Key })) } }),
    );
    expect(out.Deleted).toHaveLength(151);
    expect(out.Errors ?? []).toEqual([]);
    expect(await remaining('batch')).toBe(0);
    const physical = [...(await stack.backendKeys('rgw')), ...(await stack.backendKeys('local'))].filter((k) => k.startsWith(`${stack.bucket}/batch/`));
    expect(physical).toEqual([]);
  });

  it('quiet mode reports only errors; an oversize key is a per-key error and the rest still go', async () => {
    await putMany('quiet', 5);
    const out = await stack.client().send(
      new DeleteObjectsCommand({
        Bucket: stack.bucket,
        Delete: { Quiet: true, Objects: [...['quiet/0000', 'quiet/0001'].map((Key) => ({ Key })), { Key: 'k'.repeat(1100) }] },
      }),
    );
    expect(out.Deleted ?? []).toEqual([]);
    expect(out.Errors?.map((e) => e.Code)).toEqual(['KeyTooLongError']);
    expect(await remaining('quiet')).toBe(3);
  });

  it('accepts Content-MD5 (older clients) and refuses a wrong one', async () => {
    await putMany('md5', 2);
    const xml = '<Delete><Object><Key>md5/0000</Key></Object></Delete>';
    expect((await rawDelete(xml, { 'content-md5': md5(xml) })).status).toBe(200);
    expect(await xmlError(await rawDelete(xml, { 'content-md5': md5('other') }))).toEqual({ status: 400, code: 'BadDigest' });
    expect(await remaining('md5')).toBe(1);
  });

  it('refuses malformed, empty, oversized and unprotected requests, deleting nothing', async () => {
    await putMany('keep', 1);
    const one = '<Delete><Object><Key>keep/0000</Key></Object></Delete>';
    expect(await xmlError(await rawDelete(one, {}))).toEqual({ status: 400, code: 'InvalidRequest' });
    for (const xml of ['<Delete><Object><Key>keep/0000</Key></Delete>', '<Delete></Delete>', '<Other/>', 'not xml']) {
      expect(await xmlError(await rawDelete(xml, { 'content-md5': md5(xml) })), xml).toEqual({ status: 400, code: 'MalformedXML' });
    }
    const oversized = `<Delete><Object><Key>keep/0000</Key></Object><!--${'x'.repeat(1024 * 1024)}--></Delete>`;
    expect(await xmlError(await rawDelete(oversized, { 'content-md5': md5(oversized) }))).toEqual({ status: 400, code: 'MalformedXML' });
    const tooMany = `<Delete>${'<Object><Key>x</Key></Object>'.repeat(1001)}</Delete>`;
    expect(await xmlError(await rawDelete(tooMany, { 'content-md5': md5(tooMany) }))).toEqual({ status: 400, code: 'MalformedXML' });
    expect(await remaining('keep')).toBe(1);
    expect(await s3Failure(stack.client(stack.credentials[2]).send(new DeleteObjectsCommand({ Bucket: stack.bucket, Delete: { Objects: [{ Key: 'keep/0000' }] } })))).toEqual({
      code: 'AccessDenied',
      status: 403,
    });
  });
});
