/**
 * Bundles the dashboard's browser code (src/ui/browser) into dist/ui/admin/assets, the folder wrangler serves as
 * the Worker's static assets (wrangler.toml [assets]). wrangler runs it before `dev` and `deploy`, vitest before
 * the tests. Plain JavaScript so any Node runs it; each file is replaced atomically and only when it changed,
 * because several `wrangler dev` processes (the integration tests) may run it at once.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { URL, fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'dist/ui/admin/assets');

const result = await build({
  absWorkingDir: ROOT,
  entryPoints: ['src/ui/browser/dashboard.ts', 'src/ui/browser/login.ts', 'src/ui/browser/dashboard.css'],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  outdir: OUT,
  write: false,
  logLevel: 'warning',
});

for (const file of result.outputFiles) {
  let current;
  try {
    current = readFileSync(file.path);
  } catch {
    current = undefined;
  }
  if (current && Buffer.compare(current, file.contents) === 0) continue;
  mkdirSync(dirname(file.path), { recursive: true });
  const temporary = `${file.path}.${process.pid}.tmp`;
  writeFileSync(temporary, file.contents);
  renameSync(temporary, file.path);
  console.log(`[build-ui] ${relative(ROOT, file.path)} (${file.contents.length} bytes)`);
}
