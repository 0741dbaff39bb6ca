/**
 * `npm run dev` as a newcomer runs it: embedded Postgres (PGlite), three s3rver backends and wrangler dev from
 * one command; data survives a restart; SIGTERM (to the launcher, or to npm alone) stops every process it started;
 * 32 concurrent clients with cron runs get every answer right.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { startDev as launchDev, stopDev } from '../../scripts/lib/dev-process.ts';
import { freePort } from '../../scripts/lib/ports.ts';

const dataDir = mkdtempSync(join(tmpdir(), 's3o-devstack-'));
let child: ChildProcess | undefined;

afterAll(async () => {
  // A test that failed half way leaves its stack running: stop it the way an operator would, then make sure.
  if (child && child.exitCode === null) await Promise.race([stopDev(child), new Promise((r) => setTimeout(r, 30_000))]);
  child?.kill('SIGKILL');
  for (const pid of leftoverPids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

/** The launcher with this test's data folder (unless the test names another). */
function startDev(port: number, extraEnv: Record<string, string> = {}, viaNpm = false) {
  return launchDev({ port, env: { S3O_DATA_DIR: dataDir, ...extraEnv }, viaNpm });
}

/** Waits (bounded) until nothing this test started is left running. */
async function untilNothingLeft(): Promise<number[]> {
  const deadline = Date.now() + 60_000;
  while (leftoverPids().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  return leftoverPids();
}

/** Processes still running with this test's data folder on their command line (wrangler, workerd). */
function leftoverPids(): number[] {
  const out = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' }).stdout;
  return out
    .split('\n')
    .filter((line) => line.includes(dataDir))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

/** Runs the CLI as a user would, without blocking this process. */
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/s3-orchestrator.js', ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** The settings of a client with the credentials config.local.yaml commits for local use. */
function localClientConfig(port: number) {
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'local-access-key', secretAccessKey: 'local-secret-key-change-me' },
  };
}

function localClient(port: number): S3Client {
  return new S3Client(localClientConfig(port));
}

describe('npm run dev', () => {
  it('starts with one command, prints the credentials, keeps data across restarts and stops cleanly', async () => {
    const port = await freePort();
    const first = await startDev(port);
    child = first.child;
    expect(first.output()).toContain(`running at http://127.0.0.1:${port}`);
    expect(first.output()).toContain('access key: local-access-key');

    const s3 = localClient(port);
    await s3.send(new PutObjectCommand({ Bucket: 'local-bucket', Key: 'persist/me.txt', Body: 'still here' }));

    // The CLI finds the running stack through the file `npm run dev` writes; no flags needed.
    const status = await cli(['admin', 'status'], { S3O_CLI_CONFIG: join(dataDir, 'cli.json') });
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/^BACKEND\s+USED\s+LIMIT\s+ORPHANED\s+OBJECTS\s+REQUESTS \d{4}-\d{2}\s+EGRESS\s+INGRESS\s+STATE/);
    expect(status.out).toMatch(/local-a\s+10 B\s+10\.0 GiB\s+0 B\s+1\s+[01]\s+0 B\s+(0|10) B\s+active/);
    const asJson = await cli(['admin', 'status', '--json'], { S3O_CLI_CONFIG: join(dataDir, 'cli.json') });
    expect(JSON.parse(asJson.out).backends).toHaveLength(3);
    const wrongToken = await cli(['admin', 'status', '--token', 'not-the-admin-token'], { S3O_CLI_CONFIG: join(dataDir, 'cli.json') });
    expect(wrongToken.code).toBe(1);
    expect(wrongToken.err).toContain('the server refused: invalid admin token (HTTP 403)');
    const cliEnv = { S3O_CLI_CONFIG: join(dataDir, 'cli.json') };
    expect((await cli(['admin', 'log-level'], cliEnv)).out).toContain('log level: info (from the configuration)');
    expect((await cli(['admin', 'log-level', '-set', 'debug'], cliEnv)).out).toContain('log level is now debug (runtime)');
    expect((await cli(['admin', 'log-level'], cliEnv)).out).toContain('log level: debug (set at runtime)');
    const badLevel = await cli(['admin', 'log-level', '-set', 'loud'], cliEnv);
    expect(badLevel.code).toBe(1);
    expect(badLevel.err).toContain('level must be one of debug, info, warn, error (HTTP 400)');
    expect(await stopDev(first.child)).toBe(0);
    expect(leftoverPids()).toEqual([]);

    const second = await startDev(port, {}, true);
    child = second.child;
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'local-bucket', Prefix: 'persist/' }));
    expect(listed.Contents?.map((c) => c.Key)).toEqual(['persist/me.txt']);
    const got = await s3.send(new GetObjectCommand({ Bucket: 'local-bucket', Key: 'persist/me.txt' }));
    expect(await got.Body?.transformToString()).toBe('still here');
    // SIGTERM to npm alone, as a service manager sends it: the shell under npm dies, the launcher notices it is
    // orphaned and stops everything it started, as Ctrl-C does.
    await stopDev(second.child);
    expect(await untilNothingLeft()).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });
});

describe('npm run dev as the local deploy', () => {
  it('publishes the document it starts with; a pushed deploy-only change waits for the next start', async () => {
    const port = await freePort();
    const configFile = join(dataDir, 'config.yaml');
    copyFileSync('config.local.yaml', configFile);
    const env = { S3O_CONFIG_FILE: configFile, S3O_DATA_DIR: join(dataDir, 'deploy-cycle') };
    const first = await startDev(port, env);
    child = first.child;
    expect(first.output()).toContain(`config: ${configFile} published as version 1`);
    const cliEnv = { S3O_CLI_CONFIG: join(dataDir, 'deploy-cycle', 'cli.json') };

    // The operator edits the file: a new credential (reloadable) and a smaller object limit (deploy-only).
    const edited = readFileSync(configFile, 'utf8')
      .replace('max_object_size: 5GiB', 'max_object_size: 1000')
      .replace(
        '        secret_access_key: local-secret-key-change-me\n',
        '        secret_access_key: local-secret-key-change-me\n      - access_key_id: second-key\n        secret_access_key: second-secret-key\n',
      );
    writeFileSync(configFile, edited);
    const pushed = await cli(['config', 'push', configFile], cliEnv);
    expect(pushed.code).toBe(0);
    expect(pushed.out).toContain('version 2 is active');
    expect(pushed.out).toMatch(/buckets\[local-bucket\]\.credentials\[second-key\]\s+added\s+reloads/);
    expect(pushed.out).toContain('server.max_object_size (changed)');
    const second = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'second-key', secretAccessKey: 'second-secret-key' },
    });
    await second.send(new PutObjectCommand({ Bucket: 'local-bucket', Key: 'before-deploy.bin', Body: new Uint8Array(2000) }));
    expect(await stopDev(first.child)).toBe(0);

    // Starting again is the deploy: the file is already the active version, and now all of it applies.
    const restarted = await startDev(port, env);
    child = restarted.child;
    expect(restarted.output()).toContain(`config: version 2 already holds ${configFile}`);
    const refused = await second.send(new PutObjectCommand({ Bucket: 'local-bucket', Key: 'after-deploy.bin', Body: new Uint8Array(2000) })).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(S3ServiceException);
    expect((refused as S3ServiceException).name).toBe('EntityTooLarge');
    const shown = await cli(['config', 'show', '--json'], cliEnv);
    expect(JSON.parse(shown.out)).toMatchObject({ version: 2, requires_deploy: [] });
    expect(await stopDev(restarted.child)).toBe(0);
  });
});

describe('npm run dev with DATABASE_URL', () => {
  it('migrates and uses that Postgres instead of the embedded one', async () => {
    const admin = new pg.Client({ connectionString: inject('postgresUrl') });
    await admin.connect();
    await admin.query('create database s3o_t_devstack_external');
    await admin.end();
    const url = new URL(inject('postgresUrl'));
    url.pathname = '/s3o_t_devstack_external';

    const port = await freePort();
    const dev = await startDev(port, { DATABASE_URL: url.toString() });
    child = dev.child;
    expect(dev.output()).toContain('(DATABASE_URL), migrated');
    const s3 = localClient(port);
    await s3.send(new PutObjectCommand({ Bucket: 'local-bucket', Key: 'external.txt', Body: 'in real postgres' }));
    expect(await stopDev(dev.child)).toBe(0);

    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    const { rows } = await client.query("select key from objects where key = 'external.txt'");
    await client.end();
    expect(rows).toEqual([{ key: 'external.txt' }]);
  });
});

describe('npm run dev under ordinary concurrency', () => {
  // The bound is generous (the load takes well under a minute on PostgreSQL); it only stops a stuck run.
  it('32 clients writing and reading back 25 objects each, with cron runs during the load: no error, no wrong byte', { timeout: 600_000 }, async () => {
    const port = await freePort();
    const dev = await startDev(port, { S3O_DATA_DIR: join(dataDir, 'load') });
    child = dev.child;
    const failures: string[] = [];
    let wrongBytes = 0;
    let done = false;
    // Every error counts: one attempt per request, no SDK retries to hide them.
    const clients = Array.from({ length: 32 }, () => new S3Client({ ...localClientConfig(port), maxAttempts: 1 }));
    const crons = (async () => {
      // Bounded: at most 30 cron runs, one every second while the load runs.
      for (let i = 0; i < 30 && !done; i++) {
        const response = await fetch(`http://127.0.0.1:${port}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).catch(() => undefined);
        await response?.text();
        await new Promise((r) => setTimeout(r, 1000));
      }
    })();
    await Promise.all(
      clients.map(async (s3, c) => {
        for (let i = 0; i < 25; i++) {
          const key = `load/${c}/${i}.bin`;
          const body = randomBytes(1024 + ((c * 25 + i) * 2593) % (63 * 1024));
          try {
            await s3.send(new PutObjectCommand({ Bucket: 'local-bucket', Key: key, Body: body }));
            const got = await s3.send(new GetObjectCommand({ Bucket: 'local-bucket', Key: key }));
            const bytes = await got.Body!.transformToByteArray();
            if (createHash('sha256').update(bytes).digest('hex') !== createHash('sha256').update(body).digest('hex')) wrongBytes++;
          } catch (err) {
            failures.push(`${key}: ${err instanceof S3ServiceException ? `${err.name} ${err.$metadata.httpStatusCode}` : String(err)}`);
          }
        }
      }),
    );
    done = true;
    await crons;
    expect(wrongBytes).toBe(0);
    expect(failures).toEqual([]);
    expect(dev.output()).not.toMatch(/prepared statement|bind message/);
    expect(await stopDev(dev.child)).toBe(0);
  });
});

describe('npm run dev speaks the seed', () => {
  it('starts a local S3 server per ${LOCAL_BACKEND_X}; SIGHUP re-reads the file and pushes it; the Worker\'s info logs show; a restart says what it undoes', async () => {
    const port = await freePort();
    const configFile = join(dataDir, 'seed.yaml');
    // "Adding a new backend" locally: a fourth backend in the file, on its own ${LOCAL_BACKEND_D}.
    const fourth = readFileSync('config.local.yaml', 'utf8').replace(
      'backends:\n',
      'backends:\n  - name: local-d\n    endpoint: ${LOCAL_BACKEND_D}\n    bucket: backend-d\n    access_key_id: S3RVER\n    secret_access_key: S3RVER-local\n    force_path_style: true\n    quota_bytes: 1GiB\n',
    );
    writeFileSync(configFile, fourth);
    const env = { S3O_CONFIG_FILE: configFile, S3O_DATA_DIR: join(dataDir, 'seed') };
    const dev = await startDev(port, env);
    child = dev.child;
    const cliEnv = { S3O_CLI_CONFIG: join(dataDir, 'seed', 'cli.json') };
    const status = JSON.parse((await cli(['admin', 'status', '--json'], cliEnv)).out) as { backends: { name: string }[] };
    expect(status.backends.map((b) => b.name).sort()).toEqual(['local-a', 'local-b', 'local-c', 'local-d']);
    // The new backend takes writes (pack, first in the file).
    await localClient(port).send(new PutObjectCommand({ Bucket: 'local-bucket', Key: 'on-d.txt', Body: 'fourth' }));
    const located = await cli(['admin', 'object-locations', '-key', 'local-bucket/on-d.txt'], cliEnv);
    expect(located.out).toContain('local-d');

    // The seed's reload: edit the file, `kill -HUP` the launcher.
    writeFileSync(configFile, fourth.replace('        secret_access_key: local-secret-key-change-me\n', '        secret_access_key: local-secret-key-change-me\n      - access_key_id: hup-key\n        secret_access_key: hup-secret-key\n'));
    dev.child.kill('SIGHUP');
    await until('the reload to be reported', () => dev.output().includes('config: version 2 is active'));
    expect(dev.output()).toMatch(/buckets\[local-bucket\]\.credentials\[hup-key\]: reloads now/);
    const hup = new S3Client({ ...localClientConfig(port), credentials: { accessKeyId: 'hup-key', secretAccessKey: 'hup-secret-key' } });
    await hup.send(new PutObjectCommand({ Bucket: 'local-bucket', Key: 'after-hup.txt', Body: 'x' }));
    // The Worker's own info lines reach this terminal (the docs tell operators to look for them).
    await until('the Worker to log its reload', () => dev.output().includes('Configuration reload complete'));
    expect(dev.child.exitCode).toBeNull();

    // Someone pushes a version; starting again republishes the file, and says what that undoes.
    writeFileSync(join(dataDir, 'seed-pushed.yaml'), readFileSync(configFile, 'utf8').replace('log_level: info', 'log_level: warn'));
    expect((await cli(['config', 'push', join(dataDir, 'seed-pushed.yaml')], cliEnv)).code).toBe(0);
    expect(await stopDev(dev.child)).toBe(0);
    const again = await startDev(port, env);
    child = again.child;
    expect(again.output()).toMatch(/config: the active version 3 \(push by .*\) differs from .*seed\.yaml; starting makes the file active again/);
    expect(again.output()).toContain('server.log_level (changed): warn -> info');
    expect(await stopDev(again.child)).toBe(0);
  });
});

/** Polls (bounded) until `check` holds. */
async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
