// Starts the real test services (PostgreSQL 15, Ceph radosgw) the way the test setup does, and proves they work:
//   node_modules/.bin/node scripts/smoke-services.ts
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AwsClient } from "aws4fetch";
import pg from "pg";
import { startPostgres, type PostgresServer } from "./lib/postgres.ts";
import { startRadosgw, type RadosgwServer } from "./lib/radosgw.ts";
import { ensureDebianPackages, TEST_SERVICES_PACKAGES } from "./lib/system-deps.ts";

// Ctrl-C must still run the services' exit handlers.
process.on("SIGINT", () => process.exit(130));
process.on("SIGTERM", () => process.exit(143));

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const result = await work();
  console.log(`${label}: ${Math.round(performance.now() - started)} ms`);
  return result;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

async function checkPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ one: number }>("select 1 as one");
    check(result.rows[0]?.one === 1, `postgres: select 1 returned ${JSON.stringify(result.rows)}`);
  } finally {
    await client.end();
  }
}

async function checkRadosgw(rgw: RadosgwServer): Promise<void> {
  const s3 = new AwsClient({ ...rgw, service: "s3", retries: 0 });
  const bucketUrl = `${rgw.endpoint}/smoke-${randomUUID()}`;
  const objectUrl = `${bucketUrl}/hello/object.bin`;
  const body = new Uint8Array(randomBytes(1024 * 1024 + 7));

  const created = await s3.fetch(bucketUrl, { method: "PUT" });
  check(created.status === 200, `radosgw: CreateBucket returned ${created.status}: ${await created.text()}`);
  const put = await s3.fetch(objectUrl, { method: "PUT", body });
  check(put.status === 200, `radosgw: PutObject returned ${put.status}: ${await put.text()}`);
  const got = await s3.fetch(objectUrl);
  const bytes = new Uint8Array(await got.arrayBuffer());
  check(got.status === 200, `radosgw: GetObject returned ${got.status}`);
  check(Buffer.from(bytes).equals(Buffer.from(body)), "radosgw: GetObject returned different bytes");

  const forged = new AwsClient({ ...rgw, secretAccessKey: `${rgw.secretAccessKey}-wrong`, service: "s3", retries: 0 });
  const denied = await forged.fetch(objectUrl);
  const deniedText = await denied.text();
  check(denied.status === 403, `radosgw: a wrong secret got ${denied.status}, expected 403: ${deniedText}`);
  console.log(`radosgw: wrong secret rejected (${/<Code>(\w+)<\/Code>/.exec(deniedText)?.[1] ?? "403"})`);
}

async function main(): Promise<void> {
  await timed("ensure packages", () => ensureDebianPackages(TEST_SERVICES_PACKAGES));
  const dir = mkdtempSync(join(tmpdir(), "s3o-smoke-"));
  let postgres: PostgresServer | undefined;
  let radosgw: RadosgwServer | undefined;
  let ok = false;
  try {
    const started = await timed("start both (in parallel)", () =>
      Promise.allSettled([
        timed("  postgres start", () => startPostgres({ dir: join(dir, "postgres") })),
        timed("  radosgw start", () => startRadosgw({ dir: join(dir, "radosgw") })),
      ]),
    );
    if (started[0].status === "fulfilled") postgres = started[0].value;
    if (started[1].status === "fulfilled") radosgw = started[1].value;
    for (const outcome of started) if (outcome.status === "rejected") throw outcome.reason;
    const [db, s3] = [postgres, radosgw];
    if (db === undefined || s3 === undefined) throw new Error("unreachable");

    console.log(`postgres: ${db.url}`);
    console.log(`radosgw: ${s3.endpoint}`);
    await timed("postgres select 1", () => checkPostgres(db.url));
    await timed("radosgw bucket + 1 MiB put/get + forged request", () => checkRadosgw(s3));
    check(s3.alive(), "radosgw died during the checks");
    ok = true;
  } finally {
    await timed("stop both", () => Promise.all([postgres?.stop(), radosgw?.stop()]));
    if (ok) rmSync(dir, { recursive: true, force: true });
    else console.error(`state and logs kept in ${dir}`);
  }
}

try {
  await main();
  console.log("smoke-services: OK");
  process.exit(0);
} catch (error) {
  console.error(`smoke-services: FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
