/**
 * The zero-install database for `npm run dev`: PGlite (Postgres in WASM) persisted in a folder, migrated in
 * process, and served on the Postgres wire protocol so the Worker (through the bridge) and tools can connect.
 * PGlite runs one session; the wire server hands it to one connection per statement sequence or transaction
 * (pglite-wire-server.ts), so concurrent requests never see each other's queries or answers.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { MIGRATIONS_FOLDER } from './migrate.ts';
import { startPgliteWireServer } from './pglite-wire-server.ts';
import { freePort } from './ports.ts';

export interface EmbeddedPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(dataDir: string, port?: number): Promise<EmbeddedPostgres> {
  mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create({ dataDir });
  await migrate(drizzle({ client: db }), { migrationsFolder: MIGRATIONS_FOLDER });
  const listenPort = port ?? (await freePort());
  const server = await startPgliteWireServer(db, { host: '127.0.0.1', port: listenPort });
  let stopped = false;
  return {
    // PGlite accepts any user and password; these only satisfy clients that insist on them.
    url: `postgres://postgres:postgres@127.0.0.1:${listenPort}/postgres`,
    port: listenPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
    },
  };
}
