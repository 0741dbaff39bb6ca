/**
 * `npm run deploy [-- --dry-run]`: validates the configuration file, makes it the active configuration version in
 * the production CONFIG_KV namespace (unless it already is), then publishes the Worker to the production
 * environment with that document as its S3O_CONFIG var, which applies its deploy-only settings. Secrets named in it as ${VAR} must already exist
 * (`wrangler secret put VAR --env production`), as must DATABASE_URL. Run `npm run db:migrate` first when the
 * schema changed.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { checkConfig, formatProblems } from '../src/config/load.ts';
import { publishDeployedDocument } from '../src/config/versions.ts';
import { wranglerConfigStore } from './lib/wrangler-kv.ts';

const file = process.env.S3O_CONFIG_FILE ?? 'config.yaml';
const dryRun = process.argv.includes('--dry-run');

let text: string;
try {
  text = readFileSync(file, 'utf8');
} catch (err) {
  console.error(`deploy: cannot read ${file} (set S3O_CONFIG_FILE): ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
const report = checkConfig(text, {});
if (report.problems.length > 0) {
  console.error(`deploy: ${file} is invalid; nothing was deployed\n${formatProblems(report.problems)}`);
  process.exit(1);
}
if (report.config?.admin.token !== undefined || /^\s*token\s*:/m.test(text.split(/^admin\s*:/m)[1]?.split(/^\S/m)[0] ?? '')) {
  console.error(`deploy: ${file} sets admin.token, a development-only door; nothing was deployed. Remove it and use Cloudflare Access (admin.access)`);
  process.exit(1);
}
if (report.unsetVariables.length > 0) {
  console.log(`deploy: these must exist as Worker secrets:\n${formatProblems(report.unsetVariables)}`);
}

if (dryRun) {
  console.log('deploy: (dry run) would make this document the active configuration version in CONFIG_KV');
} else {
  // First, so that the reloadable settings the new deployment runs with are this document's too.
  try {
    const published = await publishDeployedDocument(wranglerConfigStore({ kind: 'production' }), text);
    console.log(published.published ? `deploy: ${file} is configuration version ${published.version}` : `deploy: version ${published.version} already holds ${file}`);
  } catch (err) {
    console.error(`deploy: could not publish ${file} to CONFIG_KV; nothing was deployed\n${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

const wrangler = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
const args = [wrangler, 'deploy', '--env', 'production', '--var', `S3O_CONFIG:${text}`];
if (dryRun) args.push('--dry-run', '--outdir', join('.wrangler', 'deploy-dry-run'));
const result = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(result.status ?? 1);
