/**
 * The Postgres connection for one request: Neon's pool. A statement outside a transaction is one HTTP request to
 * Neon's query endpoint (`poolQueryViaFetch`: no connection to open, one round trip); a transaction opens a
 * WebSocket connection, only when the request runs one. Production leaves the endpoints at Neon's defaults;
 * locally one bridge (scripts/lib/pg-ws-bridge.ts) serves both doors over a plain Postgres.
 */
import { Pool, type PoolClient, neon, neonConfig } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-serverless';
import { type SQL, sql } from 'drizzle-orm';
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';

/**
 * Any drizzle Postgres database: Neon's here, PGlite's in the domain unit tests. No relational query API (`db.query`):
 * giving drizzle the schema would make it derive the relations on every request's new instance. Queries read only
 * what every driver returns (rows from select/returning), never a driver's own result shape (rowCount, affectedRows).
 */
export type Db = PgDatabase<PgQueryResultHKT>;
/** What a transaction callback receives; queries accept either. */
export type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];
export type Queryable = Db | Tx;

export interface Database {
  db: Db;
  close(): Promise<void>;
}

let configuredProxy: string | undefined;

// Global in the driver; the pool still uses WebSocket connections for transactions (and while a listener other
// than 'error' is set on it, which is why countTrips wraps connect instead of listening).
neonConfig.poolQueryViaFetch = true;

function useLocalProxy(proxy: string): void {
  if (configuredProxy === proxy) return;
  neonConfig.fetchEndpoint = () => `http://${proxy}/sql`;
  neonConfig.wsProxy = () => `${proxy}/`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  // Pipelining the password message breaks SCRAM authentication against a plain Postgres.
  neonConfig.pipelineConnect = false;
  configuredProxy = proxy;
}

/** What a database call was: one statement outside a transaction (mostly reads), or a whole transaction. */
export type DatabaseCall = 'statement' | 'transaction';

export interface DatabaseOptions {
  localProxy?: string | undefined;
  /** Hears how long each call took (ms), including the wait for a connection (the request's trace phases). */
  observe?: (call: DatabaseCall, ms: number) => void;
  /**
   * Hears each round trip: a statement over HTTP, a new WebSocket connection, or a statement sent on one (a
   * transaction's BEGIN and COMMIT too).
   */
  countTrip?: (trip: 'connect' | 'statement') => void;
  /**
   * Runs each database call (a statement, a batch, a whole transaction) when the isolate's load shedding lets it
   * (database-gate.ts); it may refuse with DatabaseBusyError instead.
   */
  admit?: <T>(work: () => Promise<T>) => Promise<T>;
}

export function openDatabase(url: string, opts: DatabaseOptions = {}): Database {
  if (opts.localProxy) useLocalProxy(opts.localProxy);
  // Workers cannot share sockets between requests, so each request gets a small pool of its own.
  const pool = new Pool({ connectionString: url, max: 3, connectionTimeoutMillis: 10_000 });
  // A dropped idle connection must not become an unhandled error that kills the isolate.
  pool.on('error', () => {});
  const db = drizzle({ client: pool });
  if (opts.observe) observeCalls(pool, db, opts.observe);
  if (opts.countTrip) countTrips(pool, opts.countTrip);
  const batch = httpBatch(url, opts);
  batchRunners.set(db, opts.admit ? (statements) => opts.admit!(() => batch(statements)) : batch);
  if (opts.admit) admitCalls(pool, db, opts.admit);
  return { db, close: () => pool.end() };
}

/** Puts every call through `admit`, at the doors observeCalls times (a transaction is admitted as a whole). */
function admitCalls(pool: Pool, db: Db, admit: <T>(work: () => Promise<T>) => Promise<T>): void {
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as { query: unknown }).query = (...args: unknown[]) => {
    // A callback-style call (drizzle makes none) is left as it is.
    if (args.some((a) => typeof a === 'function')) return query(...args);
    return admit(() => query(...args) as Promise<unknown>);
  };
  const transaction = db.transaction.bind(db);
  db.transaction = ((work, config) => admit(() => transaction(work, config))) as Db['transaction'];
}

/** A batch's answer: each statement's rows, as the database names the columns, values as the driver parses them. */
export type BatchRows = Record<string, unknown>[];
type BatchRunner = (statements: readonly SQL[]) => Promise<BatchRows[]>;

const batchRunners = new WeakMap<Db, BatchRunner>();
const dialect = new PgDialect();

/**
 * Runs `statements` as one READ COMMITTED transaction. Over Neon that is one HTTP request (a non-interactive
 * transaction: no statement sees another's answer, so what one needs of an earlier one it reads from the database);
 * on any other driver (PGlite in the domain tests) the same statements run in an ordinary transaction.
 */
export async function runBatch(db: Db, statements: readonly SQL[]): Promise<BatchRows[]> {
  const runner = batchRunners.get(db);
  if (runner) return runner(statements);
  return db.transaction(async (tx) => {
    const results: BatchRows[] = [];
    // Every driver drizzle runs here answers execute() with the rows under `rows` (node-postgres' shape).
    for (const statement of statements) results.push(((await tx.execute(statement)) as unknown as { rows: BatchRows }).rows);
    return results;
  });
}

function httpBatch(url: string, opts: DatabaseOptions): BatchRunner {
  const http = neon(url);
  return async (statements) => {
    opts.countTrip?.('statement');
    const started = Date.now();
    try {
      const queries = statements.map((statement) => {
        const query = dialect.sqlToQuery(statement);
        return http.query(query.sql, query.params);
      });
      return (await http.transaction(queries, { isolationLevel: 'ReadCommitted' })) as BatchRows[];
    } finally {
      opts.observe?.('transaction', Date.now() - started);
    }
  };
}

/**
 * Times every call at the two doors drizzle uses: a statement outside a transaction is one `pool.query`, and a
 * transaction is one `db.transaction` (its statements run on a connection of its own, not through `pool.query`).
 */
function observeCalls(pool: Pool, db: Db, observe: (call: DatabaseCall, ms: number) => void): void {
  const timed = <T>(call: DatabaseCall, run: () => T): T => {
    const started = Date.now();
    const result = run();
    // A callback-style call (drizzle makes none) is left untimed.
    if (!(result instanceof Promise)) return result;
    return result.finally(() => observe(call, Date.now() - started)) as T;
  };
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as { query: unknown }).query = (...args: unknown[]) => timed('statement', () => query(...args));
  const transaction = db.transaction.bind(db);
  db.transaction = ((work, config) => timed('transaction', () => transaction(work, config))) as Db['transaction'];
}

/**
 * Counts below drizzle: a statement outside a transaction is one `pool.query` (one HTTP request), and a
 * transaction's statements are each one `client.query` on a connection from `pool.connect`, counted once when new.
 * (A 'connect' listener would do, but it turns the pool's HTTP path off.)
 */
function countTrips(pool: Pool, count: (trip: 'connect' | 'statement') => void): void {
  const poolQuery = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  (pool as { query: unknown }).query = (...args: unknown[]) => {
    count('statement');
    return poolQuery(...args);
  };
  const seen = new WeakSet<PoolClient>();
  const connect = pool.connect.bind(pool) as (callback?: unknown) => Promise<PoolClient>;
  (pool as { connect: unknown }).connect = async (callback?: unknown) => {
    // pg-pool's own callback-style calls (drizzle makes none) pass through uncounted.
    if (callback !== undefined) return connect(callback);
    const client = await connect();
    if (!seen.has(client)) {
      seen.add(client);
      count('connect');
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as { query: unknown }).query = (...args: unknown[]) => {
        count('statement');
        return query(...args);
      };
    }
    return client;
  };
}

/**
 * Failures that say the database cannot serve right now (as opposed to a query it refused), however deeply
 * wrapped: the connection could not be made or broke, or the server refused it for lack of room (too many
 * clients), or is starting or shutting down. A retry may succeed, so clients get 503, not 500.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let current: unknown = err, depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (current instanceof Error) {
      if (CONNECTION_FAILURE.test(current.message) || UNAVAILABLE_SQLSTATE.test(sqlState(current))) return true;
      current = current.cause;
    } else {
      // The WebSocket transport rejects with a bare ErrorEvent when the connection cannot be opened.
      return typeof current === 'object' && 'type' in current && current.type === 'error';
    }
  }
  return false;
}

// "Error connecting to database" and "Server error (HTTP status 5xx)" are the HTTP path's: the endpoint could not
// be reached, or could not reach Postgres.
const CONNECTION_FAILURE =
  /error connecting to database|server error \(HTTP status 5\d\d\)|websocket|ECONNREFUSED|connection terminated|timeout exceeded when trying to connect|network connection lost|Connection refused/i;

/** SQLSTATE classes 08 (connection exception), 53 (insufficient resources: 53300 too many connections), 57P01-03 (shutting down, starting up). */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[123])/;

function sqlState(err: Error): string {
  const code = 'code' in err ? err.code : undefined;
  return typeof code === 'string' ? code : '';
}

/**
 * A subquery of text tuples, e.g. for `(bucket, key) in (...)`: the rows travel as one JSON parameter (drizzle
 * would spread an array into one parameter per element). `columns` are names fixed in code, never input.
 */
export function textTuples(columns: readonly string[], rows: readonly (readonly string[])[]): SQL {
  const objects = rows.map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
  return sql`select ${sql.raw(columns.join(', '))} from json_to_recordset(${JSON.stringify(objects)}::json) as t(${sql.raw(columns.map((c) => `${c} text`).join(', '))})`;
}
