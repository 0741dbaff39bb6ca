/**
 * `npm run dev`: a complete local orchestrator with no accounts and no system packages. Embedded Postgres
 * (PGlite, unless DATABASE_URL is set), three s3rver backends, and the Worker under wrangler dev; data persists in
 * .data/ between runs. Ctrl-C, or SIGTERM to npm or to this process, stops everything; SIGHUP to this process
 * re-reads the config file and pushes it as a new version (the seed's reload).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { startEmbeddedPostgres } from './lib/embedded-postgres.ts';
import { migrateDatabase } from './lib/migrate.ts';
import { startPgBridge } from './lib/pg-ws-bridge.ts';
import { startS3rverBackend } from './lib/s3rver-backends.ts';
import { startWorker } from './lib/worker-dev.ts';
import { wranglerConfigStore } from './lib/wrangler-kv.ts';
import { call } from '../src/cli/api-call.ts';
import type { ConfigStore } from '../src/config/config-store.ts';
import { loadConfig } from '../src/config/load.ts';
import { configChanges } from '../src/config/reload-classes.ts';
import { ACTIVE_KEY, type ConfigVersion, parseVersionRecord, publishDeployedDocument } from '../src/config/versions.ts';
import { referencedVariables } from '../src/config/expand.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DATA = process.env.S3O_DATA_DIR ?? join(ROOT, '.data');
const CONFIG_PATH = process.env.S3O_CONFIG_FILE ?? join(ROOT, 'config.local.yaml');
const CRON_INTERVAL_MS = 60_000;

const stops: (() => Promise<void>)[] = [];
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log('\nstopping...');
    for (const stop of stops.reverse()) await stop().catch((err: unknown) => console.error(String(err)));
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGHUP', () => {
  // Before the stack is up there is nothing to reload into.
  if (reload) void reload().catch((err: unknown) => console.error(`SIGHUP reload failed: ${String(err)}`));
});
// `npm run dev` runs this under `sh -c`. A SIGTERM to npm (as a service manager or a test harness sends it) kills
// the shell and orphans this process without a signal; so an orphaned launcher stops everything, as Ctrl-C does.
const launchedBy = process.ppid;
setInterval(() => {
  if (process.ppid !== launchedBy) void shutdown(0);
}, 500).unref();

async function main(): Promise<void> {
  const configText = readFileSync(CONFIG_PATH, 'utf8');

  let databaseUrl = process.env.DATABASE_URL;
  let pgTarget: { host: string; port: number };
  if (databaseUrl) {
    await migrateDatabase(databaseUrl);
    const url = new URL(databaseUrl);
    pgTarget = { host: url.hostname, port: Number(url.port || 5432) };
    console.log(`database: ${url.host} (DATABASE_URL), migrated`);
  } else {
    const pg = await startEmbeddedPostgres(join(DATA, 'postgres'));
    stops.push(pg.stop);
    databaseUrl = pg.url;
    pgTarget = { host: '127.0.0.1', port: pg.port };
    console.log(`database: embedded Postgres (PGlite) in ${join(DATA, 'postgres')}, migrated`);
  }
  const bridge = await startPgBridge(pgTarget);
  stops.push(bridge.close);

  // One local S3 server per backend whose endpoint is a ${LOCAL_BACKEND_X} variable: adding a backend locally is
  // adding it to the file (and restarting, as adding one is a deploy).
  const vars: Record<string, string> = {};
  for (const local of localBackends(configText)) {
    const backend = await startS3rverBackend(local.name, join(DATA, 's3'), local.bucket);
    stops.push(backend.stop);
    vars[local.variable] = backend.endpoint;
  }

  // Other variables the document names (`master_key: ${ENCRYPTION_KEY}`) come from the shell, as secrets would:
  // `ENCRYPTION_KEY=$(openssl rand -base64 32) npm run dev`.
  for (const name of referencedVariables(configText)) {
    const value = process.env[name];
    if (vars[name] === undefined && value !== undefined) vars[name] = value;
  }

  // Starting the local stack plays the part of a deploy: the document it runs with becomes the active version.
  const persistDir = join(DATA, 'wrangler');
  const store = wranglerConfigStore({ kind: 'local', persistDir });
  await reportReplacedVersion(store, configText, vars);
  const published = await publishDeployedDocument(store, configText);
  console.log(
    published.published
      ? `config: ${CONFIG_PATH} published as version ${published.version} (deploy-only settings apply now)`
      : `config: version ${published.version} already holds ${CONFIG_PATH}`,
  );

  const port = process.env.PORT ? Number(process.env.PORT) : 8787;
  const worker = await startWorker({
    port,
    persistDir,
    // The Worker's info lines (config reloads, drains, ...) are what the docs tell operators to look for.
    logLevel: 'log',
    vars: {
      ...vars,
      S3O_CONFIG: configText,
      DATABASE_URL: databaseUrl,
      DATABASE_LOCAL_PROXY: `127.0.0.1:${bridge.port}`,
    },
  });
  stops.push(worker.stop);
  // Crons never fire by themselves under wrangler dev; drive them as Cloudflare would.
  const cron = setInterval(() => void worker.triggerCron().then((r) => r.body?.cancel()).catch(() => {}), CRON_INTERVAL_MS);
  stops.push(async () => clearInterval(cron));
  worker.child.once('exit', () => void shutdown(stopping ? 0 : 1));

  // Lets `npx s3-orchestrator admin ...` from this checkout find the local stack with no flags.
  const adminToken = (parse(configText) as { admin?: { token?: string } }).admin?.token;
  writeFileSync(join(DATA, 'cli.json'), `${JSON.stringify({ url: worker.url, token: adminToken }, null, 2)}\n`);
  // The seed's `kill -HUP <pid>`: re-read the file and make it the active version, as `config push` does.
  reload = () => pushConfigFile(worker.url, adminToken);
  printBanner(worker.url, configText);
}

interface LocalBackendSpec {
  name: string;
  bucket: string;
  variable: string;
}

function localBackends(configText: string): LocalBackendSpec[] {
  const doc = parse(configText) as { backends?: { name?: unknown; bucket?: unknown; endpoint?: unknown }[] };
  return (doc.backends ?? []).flatMap((b) => {
    const variable = typeof b.endpoint === 'string' ? /^\$\{(LOCAL_BACKEND_[A-Z0-9_]+)\}$/.exec(b.endpoint)?.[1] : undefined;
    return variable && typeof b.name === 'string' && typeof b.bucket === 'string' ? [{ name: b.name, bucket: b.bucket, variable }] : [];
  });
}

/** Starting again republishes the file: say what that undoes of the versions pushed since. */
async function reportReplacedVersion(store: ConfigStore, configText: string, vars: Record<string, string>): Promise<void> {
  const raw = await store.get(ACTIVE_KEY);
  if (raw === null) return;
  let active: ConfigVersion;
  try {
    active = parseVersionRecord(raw);
  } catch {
    console.log('config: the active version record is unreadable; the file replaces it');
    return;
  }
  if (active.yaml === configText) return;
  const before = loadConfig(active.yaml, vars);
  const after = loadConfig(configText, vars);
  const changes = before.ok && after.ok ? configChanges(before.config, after.config) : [];
  console.log(`config: the active version ${active.version} (${active.source} by ${active.by}) differs from ${CONFIG_PATH}; starting makes the file active again`);
  for (const change of changes) console.log(`  ${change.field} (${change.change})${change.from !== undefined ? `: ${change.from} -> ${change.to ?? ''}` : ''}`);
}

let reload: (() => Promise<void>) | undefined;

async function pushConfigFile(url: string, token: string | undefined): Promise<void> {
  console.log(`\nSIGHUP: re-reading ${CONFIG_PATH} and pushing it as a new configuration version`);
  const yaml = readFileSync(CONFIG_PATH, 'utf8');
  const result = await call({ url, headers: token ? { authorization: `Bearer ${token}` } : {}, source: 'npm run dev' }, 'POST', '/admin/api/config/versions', {
    yaml,
    note: 'SIGHUP to npm run dev',
  });
  if (!result.ok) {
    console.log(`Config reload failed, keeping current config: ${result.error}`);
    const problems = (result.body as { problems?: { path: string; message: string }[] } | undefined)?.problems ?? [];
    for (const p of problems) console.log(`  ${p.path ? `${p.path}: ` : ''}${p.message}`);
    return;
  }
  const value = result.value as { version?: number; unchanged?: boolean; changes?: { field: string; effect: string }[]; requires_deploy?: { field: string }[] };
  console.log(value.unchanged ? `config: no change (version ${value.version} already holds the file)` : `config: version ${value.version} is active`);
  for (const change of value.changes ?? []) console.log(`  ${change.field}: ${change.effect === 'reloadable' ? 'reloads now' : 'requires restart'}`);
  for (const change of value.requires_deploy ?? []) console.log(`  ${change.field}: requires a restart of npm run dev`);
}

function printBanner(endpoint: string, configText: string): void {
  const doc = parse(configText) as { buckets?: { name: string; credentials: { access_key_id: string; secret_access_key: string }[] }[] };
  console.log(`\ns3-orchestrator is running at ${endpoint}  (Ctrl-C to stop)\n`);
  for (const bucket of doc.buckets ?? []) {
    console.log(`  bucket: ${bucket.name}`);
    for (const cred of bucket.credentials) {
      console.log(`    access key: ${cred.access_key_id}   secret key: ${cred.secret_access_key}`);
    }
  }
  const first = doc.buckets?.[0];
  const cred = first?.credentials[0];
  if (first && cred) {
    console.log(`\n  try:  AWS_ACCESS_KEY_ID=${cred.access_key_id} AWS_SECRET_ACCESS_KEY=${cred.secret_access_key} \\`);
    console.log(`        aws --endpoint-url ${endpoint} --region us-east-1 s3 ls s3://${first.name}/`);
    console.log(`  admin: npx s3-orchestrator admin status`);
  }
  const token = (parse(configText) as { admin?: { token?: string } }).admin?.token;
  console.log(`  dashboard: ${endpoint}/admin/${token ? '  (sign in with the admin token: admin.token in the configuration)' : '  (set admin.token in the configuration to sign in locally)'}\n`);
}

main().catch((err: unknown) => {
  console.error(`npm run dev failed: ${err instanceof Error ? err.message : String(err)}`);
  void shutdown(1);
});
