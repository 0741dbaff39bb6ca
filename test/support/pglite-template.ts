/**
 * Global setup of the unit project: one PGlite database (Postgres in WASM) migrated with the repository's
 * drizzle-kit migrations, exactly as `npm run dev` migrates its embedded database, dumped as a gzipped data
 * directory. Each domain test file in workerd starts its own database from this dump (about half a second) instead
 * of running initdb and the migrations itself (several seconds per file). Runs in Node, once per test run.
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import type { TestProject } from 'vitest/node';
import { MIGRATIONS_FOLDER } from '../../scripts/lib/migrate.ts';
import { MIGRATED_PGLITE_DUMP } from './provided-context.ts';

export default async function setup(project: TestProject): Promise<void> {
  const db = await PGlite.create();
  try {
    await migrate(drizzle({ client: db }), { migrationsFolder: MIGRATIONS_FOLDER });
    const dump = await db.dumpDataDir('gzip');
    project.provide(MIGRATED_PGLITE_DUMP, Buffer.from(await dump.arrayBuffer()).toString('base64'));
  } finally {
    await db.close();
  }
}
