/**
 * Services the integration suite shares: a real PostgreSQL 15 server and a real, signature-checking S3 server
 * (Ceph radosgw), installed from Debian when missing. Each test file starts its own Worker and database on top.
 * After the suite, every database the files created must show exact accounting.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startPostgres } from '../../scripts/lib/postgres.ts';
import { startRadosgw } from '../../scripts/lib/radosgw.ts';
import { REAL_CLIENT_PACKAGES, TEST_SERVICES_PACKAGES, ensureDebianPackages } from '../../scripts/lib/system-deps.ts';
import { accountingDrift } from '../support/accounting.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
    radosgw: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await ensureDebianPackages([...TEST_SERVICES_PACKAGES, ...REAL_CLIENT_PACKAGES]);
  const dir = mkdtempSync(join(tmpdir(), 's3o-itest-'));
  const postgres = await startPostgres({ dir: join(dir, 'postgres') });
  let radosgw: Awaited<ReturnType<typeof startRadosgw>>;
  try {
    radosgw = await startRadosgw({ dir: join(dir, 'radosgw') });
  } catch (err) {
    await postgres.stop();
    throw err;
  }
  await assertVerifiesSignatures(radosgw);
  project.provide('postgresUrl', postgres.url);
  project.provide('radosgw', {
    endpoint: radosgw.endpoint,
    accessKeyId: radosgw.accessKeyId,
    secretAccessKey: radosgw.secretAccessKey,
    region: radosgw.region,
  });

  return async () => {
    try {
      await checkEveryTestDatabase(postgres.url);
      if (!radosgw.alive()) throw new Error('radosgw died during the suite (see its log); results that used it are suspect');
    } finally {
      await radosgw.stop();
      await postgres.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** The suite-wide invariant: bytes_used equals the sum of recorded copy sizes, on every backend of every stack. */
async function checkEveryTestDatabase(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const { rows } = await admin.query<{ datname: string }>("select datname from pg_database where datname like 's3o_t_%'");
  await admin.end();
  const problems: string[] = [];
  for (const { datname } of rows) {
    const url = new URL(adminUrl);
    url.pathname = `/${datname}`;
    for (const drift of await accountingDrift(url.toString())) problems.push(`${datname}: ${drift}`);
  }
  if (problems.length > 0) throw new Error(`accounting drift after the suite:\n${problems.join('\n')}`);
  console.log(`accounting check: ${rows.length} test databases, bytes_used exact on every backend`);
}

/** The suite relies on one backend that really checks SigV4; make sure this one does. */
async function assertVerifiesSignatures(server: { endpoint: string; accessKeyId: string; stop(): Promise<void> }): Promise<void> {
  const forged = new AwsClient({ accessKeyId: server.accessKeyId, secretAccessKey: 'not-the-secret-key', service: 's3', region: 'us-east-1', retries: 0 });
  const response = await forged.fetch(`${server.endpoint}/`);
  await response.body?.cancel();
  if (response.status !== 403) {
    await server.stop();
    throw new Error(`the signature-checking backend accepted a wrong secret (status ${response.status}); it is not a real radosgw`);
  }
}
