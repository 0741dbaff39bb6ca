import { execFileSync } from 'node:child_process';
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

// The Worker's static assets (the dashboard bundle) must exist before wrangler.toml is read by either project.
execFileSync(process.execPath, ['scripts/build-ui.mjs'], { stdio: 'inherit' });

export default defineConfig({
  test: {
    projects: [
      {
        // Pure modules, and the domain on an in-memory backend and PGlite (test/unit/support), run inside workerd
        // (the runtime they ship to). The global setup migrates one PGlite database for the domain tests to copy.
        plugins: [cloudflareTest({ wrangler: { configPath: './wrangler.toml' } })],
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], globalSetup: ['test/support/pglite-template.ts'] },
      },
      {
        // The real Worker under wrangler dev, a real Postgres, real S3 servers, driven by real clients.
        test: {
          name: 'integration',
          environment: 'node',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['test/integration/global-setup.ts'],
          // Generous: the suite must pass on a busy 2-core machine, where starting a stack alone can take minutes.
          testTimeout: 300_000,
          hookTimeout: 180_000,
          fileParallelism: true,
          maxWorkers: 2,
        },
      },
    ],
  },
});
