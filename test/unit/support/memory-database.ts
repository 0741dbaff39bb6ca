/**
 * An in-process Postgres for domain tests in workerd: PGlite (Postgres 17 in WASM) started from the migrated dump the
 * unit project's global setup made (test/support/pglite-template.ts), behind the same drizzle `Db` the store's
 * queries take. One PGlite is one session: transactions run one at a time and a query outside them waits for the
 * open one, so it shows ordering bugs but not the concurrency a real server has (the integration tests keep that).
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import type { Db } from '../../../src/store/db.ts';
import { MIGRATED_PGLITE_DUMP, PGLITE_FILES } from '../../support/provided-context.ts';

export interface MemoryDatabase {
  db: Db;
  /** Empties every table (between tests; much faster than a new database). */
  reset(): Promise<void>;
  /** Raw SQL for assertions the store has no query for. */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

let template: Promise<Blob> | undefined;

/** The migrated data directory, ungzipped once per test file (PGlite's own gunzip takes seconds in workerd). */
function migratedDataDir(): Promise<Blob> {
  template ??= new Response(new Blob([fromBase64(inject(MIGRATED_PGLITE_DUMP))]).stream().pipeThrough(new DecompressionStream('gzip'))).blob();
  return template;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

export async function openMemoryDatabase(): Promise<MemoryDatabase> {
  const dataDir = await migratedDataDir();
  const files = inject(PGLITE_FILES);
  // PGlite's files are not modules here (see test/support/pglite-template.ts); workerd compiles WebAssembly only
  // through the pool's unsafe-eval binding (below).
  const client = await withRuntimeWasmCompilation((compile) =>
    PGlite.create({
      pgliteWasmModule: compile(fromBase64(files.pgliteWasm)),
      initdbWasmModule: compile(fromBase64(files.initdbWasm)),
      fsBundle: new Blob([fromBase64(files.fsBundle)]),
      loadDataDir: dataDir,
    }),
  );
  const tables = (await client.query<{ name: string }>(`select quote_ident(tablename) as name from pg_tables where schemaname = 'public'`)).rows.map((r) => r.name);
  // Deleting a few rows is much cheaper than TRUNCATE's new files; with triggers (and so foreign keys) off for the
  // session, the order does not matter.
  const empty = `set session_replication_role = replica; ${tables.map((t) => `delete from ${t};`).join(' ')} set session_replication_role = default;`;
  return {
    db: drizzle({ client }),
    async reset() {
      await client.exec(empty);
    },
    async query<T>(sql: string, params: unknown[] = []) {
      return (await client.query<T>(sql, params)).rows;
    },
    close: () => client.close(),
  };
}

/**
 * PGlite's start-up wraps two JavaScript callbacks as WebAssembly functions, which Emscripten does by compiling a
 * tiny module at run time; workerd forbids that (`Wasm code generation disallowed by embedder`) except through the
 * unsafe-eval binding the vitest pool gives its test Worker. So, for the start-up only, `new WebAssembly.Module`
 * compiles through that binding (and so do PGlite's own two modules, handed to `work`); everything else about
 * WebAssembly stays as it is.
 */
async function withRuntimeWasmCompilation<T>(work: (compile: (bytes: Uint8Array<ArrayBuffer>) => WebAssembly.Module) => Promise<T>): Promise<T> {
  const unsafeEval: unknown = Reflect.get(env, POOL_UNSAFE_EVAL);
  if (!isUnsafeEval(unsafeEval)) throw new Error(`the vitest pool's ${POOL_UNSAFE_EVAL} binding is missing; PGlite cannot start in workerd without it`);
  const original = WebAssembly.Module;
  WebAssembly.Module = new Proxy(original, { construct: (_target, [bytes]: [BufferSource]) => unsafeEval.newWasmModule(bytes) });
  try {
    return await work((bytes) => unsafeEval.newWasmModule(bytes));
  } finally {
    WebAssembly.Module = original;
  }
}

/** The binding @cloudflare/vitest-plugin adds to the Worker it runs tests in (it loads test modules through it). */
const POOL_UNSAFE_EVAL = '__VITEST_POOL_WORKERS_UNSAFE_EVAL';

interface UnsafeEval {
  newWasmModule(bytes: BufferSource): WebAssembly.Module;
}

function isUnsafeEval(value: unknown): value is UnsafeEval {
  return typeof value === 'object' && value !== null && 'newWasmModule' in value && typeof value.newWasmModule === 'function';
}
