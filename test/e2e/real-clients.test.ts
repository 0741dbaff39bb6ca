/**
 * The S3 clients people actually use, from Debian, with their default settings against the orchestrator:
 * the AWS CLI, rclone, s3cmd and boto3. Byte-for-byte round trips, checked by digest.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBody } from '../support/bytes.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const MiB = 1024 * 1024;
let stack: TestStack;
let work: string;

beforeAll(async () => {
  stack = await startTestStack({ name: 'clients', strategy: 'spread', backends: [{ name: 'rgw', kind: 'radosgw' }, { name: 'local', kind: 's3rver' }] });
  work = mkdtempSync(join(tmpdir(), 's3o-clients-'));
});

afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  await stack?.expectExactAccounting();
  await stack?.stop();
});

/**
 * Runs a client without blocking this process: the test's database bridge and s3rver backend live here, and a
 * synchronous spawn would starve them.
 */
function run(command: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { PATH: '/usr/bin:/bin', HOME: work, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} failed (${code ?? signal}):\n${stdout}\n${stderr}`));
    });
  });
}

const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

function file(name: string, size: number): string {
  const path = join(work, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, randomBody(size));
  return path;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const page = await stack.client().send(new ListObjectsV2Command({ Bucket: stack.bucket, Prefix: prefix }));
  return (page.Contents ?? []).map((c) => c.Key ?? '');
}

describe('AWS CLI (Debian awscli)', () => {
  const env = () => ({
    AWS_ACCESS_KEY_ID: stack.credentials[0]!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: stack.credentials[0]!.secretAccessKey,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_PAGER: '',
  });
  const aws = (...args: string[]) => run('/usr/bin/aws', ['--endpoint-url', stack.endpoint, ...args], env());

  it('cp of a 64 MiB file both ways (multipart), sync, ls, presign and rm --recursive', async () => {
    const big = file('cli/big.bin', 64 * MiB);
    await aws('s3', 'cp', big, `s3://${stack.bucket}/cli/big.bin`);
    const back = join(work, 'cli-back.bin');
    await aws('s3', 'cp', `s3://${stack.bucket}/cli/big.bin`, back);
    expect(digest(back)).toBe(digest(big));

    const dir = join(work, 'cli-sync');
    for (let i = 0; i < 5; i++) file(`cli-sync/f${i}.txt`, 1000 + i);
    file('cli-sync/sub/deep.txt', 10);
    await aws('s3', 'sync', dir, `s3://${stack.bucket}/cli/sync/`);
    expect((await keysUnder('cli/sync/')).sort()).toEqual(['cli/sync/f0.txt', 'cli/sync/f1.txt', 'cli/sync/f2.txt', 'cli/sync/f3.txt', 'cli/sync/f4.txt', 'cli/sync/sub/deep.txt']);
    // A second sync finds nothing to do.
    expect((await aws('s3', 'sync', dir, `s3://${stack.bucket}/cli/sync/`)).trim()).toBe('');
    const listing = await aws('s3', 'ls', `s3://${stack.bucket}/cli/`, '--recursive');
    expect(listing).toContain('cli/big.bin');
    expect(listing).toContain('cli/sync/sub/deep.txt');

    const url = (await aws('s3', 'presign', `s3://${stack.bucket}/cli/sync/f3.txt`, '--expires-in', '300')).trim();
    const presigned = await fetch(url);
    expect(presigned.status).toBe(200);
    expect(Buffer.from(await presigned.arrayBuffer()).equals(readFileSync(join(dir, 'f3.txt')))).toBe(true);

    await aws('s3', 'rm', `s3://${stack.bucket}/cli/`, '--recursive');
    expect(await keysUnder('cli/')).toEqual([]);
  });
});

describe('rclone (Debian rclone)', () => {
  const env = () => ({
    RCLONE_CONFIG_ORCH_TYPE: 's3',
    RCLONE_CONFIG_ORCH_PROVIDER: 'Other',
    RCLONE_CONFIG_ORCH_ACCESS_KEY_ID: stack.credentials[0]!.accessKeyId,
    RCLONE_CONFIG_ORCH_SECRET_ACCESS_KEY: stack.credentials[0]!.secretAccessKey,
    RCLONE_CONFIG_ORCH_ENDPOINT: stack.endpoint,
    RCLONE_CONFIG_ORCH_REGION: 'us-east-1',
  });
  const rclone = (...args: string[]) => run('/usr/bin/rclone', ['--config', '/dev/null', '--low-level-retries', '2', '--retries', '1', '--contimeout', '20s', '--timeout', '60s', ...args], env());

  it('copy (with multipart), sync, check, lsf and delete', async () => {
    const dir = join(work, 'rclone');
    file('rclone/a.bin', 12 * MiB);
    file('rclone/b.txt', 5000);
    file('rclone/nested/c.txt', 1);
    const remote = `orch:${stack.bucket}/rclone`;
    await rclone('copy', dir, remote, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M');
    await rclone('check', dir, remote);
    file('rclone/d.txt', 42);
    rmSync(join(dir, 'b.txt'));
    await rclone('sync', dir, remote);
    await rclone('check', dir, remote);
    expect((await rclone('lsf', '-R', remote)).trim().split('\n').sort()).toEqual(['a.bin', 'd.txt', 'nested/', 'nested/c.txt']);
    const back = join(work, 'rclone-back');
    await rclone('copy', remote, back);
    expect(digest(join(back, 'a.bin'))).toBe(digest(join(dir, 'a.bin')));
    await rclone('delete', remote);
    expect(await keysUnder('rclone/')).toEqual([]);
  });
});

describe('s3cmd (Debian s3cmd)', () => {
  it('put (multipart), get, ls and del', async () => {
    const host = new URL(stack.endpoint).host;
    const config = join(work, 's3cfg');
    writeFileSync(
      config,
      [
        '[default]',
        `access_key = ${stack.credentials[0]!.accessKeyId}`,
        `secret_key = ${stack.credentials[0]!.secretAccessKey}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        'use_https = False',
        'signature_v2 = False',
        'bucket_location = us-east-1',
        'multipart_chunk_size_mb = 5',
      ].join('\n'),
    );
    const s3cmd = (...args: string[]) => run('/usr/bin/s3cmd', ['-c', config, ...args]);
    const big = file('s3cmd/big.bin', 11 * MiB);
    await s3cmd('put', big, `s3://${stack.bucket}/s3cmd/big.bin`);
    const back = join(work, 's3cmd-back.bin');
    await s3cmd('get', `s3://${stack.bucket}/s3cmd/big.bin`, back);
    expect(digest(back)).toBe(digest(big));
    expect(await s3cmd('ls', `s3://${stack.bucket}/s3cmd/`)).toContain('s3cmd/big.bin');
    await s3cmd('del', `s3://${stack.bucket}/s3cmd/big.bin`);
    expect(await keysUnder('s3cmd/')).toEqual([]);
  });
});

describe('boto3 (Debian python3-boto3)', () => {
  it('upload_file and download_file across the multipart threshold', async () => {
    const small = file('boto/small.bin', 100_000);
    const big = file('boto/big.bin', 13 * MiB);
    const script = `
import sys, boto3
from boto3.s3.transfer import TransferConfig
endpoint, key, secret, bucket, small, big, out = sys.argv[1:]
s3 = boto3.client('s3', endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret, region_name='us-east-1')
config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
s3.upload_file(small, bucket, 'boto/small.bin', Config=config)
s3.upload_file(big, bucket, 'boto/big.bin', Config=config)
s3.download_file(bucket, 'boto/big.bin', out + '.big', Config=config)
s3.download_file(bucket, 'boto/small.bin', out + '.small', Config=config)
print(s3.head_object(Bucket=bucket, Key='boto/big.bin')['ETag'])
`;
    const out = join(work, 'boto-back');
    const etag = await run('/usr/bin/python3', ['-c', script, stack.endpoint, stack.credentials[0]!.accessKeyId, stack.credentials[0]!.secretAccessKey, stack.bucket, small, big, out]);
    expect(etag.trim()).toMatch(/^"[0-9a-f]{32}-3"$/);
    expect(digest(`${out}.big`)).toBe(digest(big));
    expect(digest(`${out}.small`)).toBe(digest(small));
  });
});
