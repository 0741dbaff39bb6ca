/**
 * `npm test`: everything CI runs, in order: the generated Worker types match wrangler.toml, typecheck (Worker and
 * Node sides), lint, unit tests inside workerd, then integration tests against the real Worker, PostgreSQL and
 * radosgw (installed from Debian when missing).
 */
import { spawnSync } from 'node:child_process';
import { REAL_CLIENT_PACKAGES, TEST_SERVICES_PACKAGES, ensureDebianPackages } from './lib/system-deps.ts';

function run(title: string, command: string, args: string[]): void {
  console.log(`\n== ${title}`);
  const started = Date.now();
  const result = spawnSync(command, args, { stdio: 'inherit', env: process.env });
  if (result.status !== 0) {
    console.error(`\n${title} failed (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
  console.log(`== ${title}: ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

const node = process.execPath;
const bin = (name: string) => `node_modules/${name}`;

run('generated Worker types up to date with wrangler.toml', node, ['scripts/worker-types.ts', '--check']);
run('typecheck (Worker)', node, [bin('typescript/bin/tsc'), '-p', 'tsconfig.json']);
run('typecheck (Node: scripts, CLI, integration tests)', node, [bin('typescript/bin/tsc'), '-p', 'tsconfig.node.json']);
run('typecheck (dashboard browser code)', node, [bin('typescript/bin/tsc'), '-p', 'tsconfig.ui.json']);
run('lint', node, [bin('eslint/bin/eslint.js'), '.', '--max-warnings=0']);
run('unit tests (workerd)', node, [bin('vitest/vitest.mjs'), 'run', '--project', 'unit']);
await ensureDebianPackages([...TEST_SERVICES_PACKAGES, ...REAL_CLIENT_PACKAGES]);
run('integration tests (wrangler dev + PostgreSQL + radosgw + s3rver)', node, [bin('vitest/vitest.mjs'), 'run', '--project', 'integration']);
