/** `npm run db:migrate`: applies migrations/ to the Postgres in DATABASE_URL (Neon in production). */
import { migrateDatabase } from './lib/migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('db:migrate: set DATABASE_URL to the Postgres to migrate');
  process.exit(2);
}
try {
  await migrateDatabase(url);
  console.log(`migrated ${new URL(url).host}`);
} catch (err) {
  console.error(`db:migrate failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
