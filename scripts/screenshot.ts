/**
 * `npm run screenshot`: regenerates docs/images/dashboard.png, the README's picture of the dashboard, by running
 * the dashboard's end-to-end test (a real Worker, Postgres, radosgw and Chromium) with the image path set. The
 * picture is taken mid-drain, so it shows the pulsing "Draining" badge and live progress.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const image = fileURLToPath(new URL('../docs/images/dashboard.png', import.meta.url));
const result = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--project', 'integration', 'test/e2e/dashboard.test.ts'], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, S3O_DASHBOARD_SCREENSHOT: image },
});
if (result.status === 0) console.log(`\nwrote ${image}`);
process.exit(result.status ?? 1);
