/**
 * Global setup of the unit project: one PGlite database (Postgres in WASM) migrated with the repository's
 * drizzle-kit migrations, exactly as `npm run dev` migrates its embedded database, dumped as a gzipped data
 * directory. Each domain test file in workerd starts its own database from this dump (about a second) instead of
 * running initdb and the migrations itself (several seconds per file). Built in Node once, then kept in .test-tmp/
 * under a digest of the migrations and the PGlite version, so later runs only read it. PGlite's own files go along.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import type { TestProject } from 'vitest/node';
import { MIGRATIONS_FOLDER } from '../../scripts/lib/migrate.ts';
import { MIGRATED_PGLITE_DUMP, PGLITE_FILES } from './provided-context.ts';

const CACHE = fileURLToPath(new URL('../../.test-tmp/pglite', import.meta.url));

export default async function setup(project: TestProject): Promise<void> {
  const file = join(CACHE, `migrated-${templateDigest()}.tar.gz`);
  let dump: Buffer;
  try {
    dump = readFileSync(file);
  } catch {
    dump = await migratedDump();
    mkdirSync(CACHE, { recursive: true });
    // Renamed into place, so a run started meanwhile never reads half a file.
    const partial = `${file}.${process.pid}.partial`;
    writeFileSync(partial, dump);
    renameSync(partial, file);
  }
  project.provide(MIGRATED_PGLITE_DUMP, dump.toString('base64'));
  // Handed over as strings: as imported modules, vitest's workerd pool sends binary files as JSON arrays of numbers,
  // which took most of a domain test file's start-up.
  const dist = join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')));
  const base64 = (name: string) => readFileSync(join(dist, name)).toString('base64');
  project.provide(PGLITE_FILES, { pgliteWasm: base64('pglite.wasm'), initdbWasm: base64('initdb.wasm'), fsBundle: base64('pglite.data') });
}

async function migratedDump(): Promise<Buffer> {
  const db = await PGlite.create();
  try {
    await migrate(drizzle({ client: db }), { migrationsFolder: MIGRATIONS_FOLDER });
    return Buffer.from(await (await db.dumpDataDir('gzip')).arrayBuffer());
  } finally {
    await db.close();
  }
}

/** Changes with any migration (or the journal) and with the PGlite version (its data directory format). */
function templateDigest(): string {
  const hash = createHash('sha256');
  // The package's exports hide package.json; it sits one folder above the entry (dist/). Vite's module runner,
  // which loads this file, has no import.meta.resolve.
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const pglite: unknown = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8'));
  hash.update(typeof pglite === 'object' && pglite !== null && 'version' in pglite ? String(pglite.version) : 'unknown');
  const files = readdirSync(MIGRATIONS_FOLDER, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
  for (const f of files.map((e) => join(e.parentPath, e.name)).sort()) hash.update(f.slice(MIGRATIONS_FOLDER.length)).update(readFileSync(f));
  return hash.digest('hex').slice(0, 16);
}
