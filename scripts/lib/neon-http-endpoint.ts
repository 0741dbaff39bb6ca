/**
 * Stands in for Neon's HTTP query endpoint (`POST /sql`) locally, so that the Worker's statements take the same
 * driver path (`@neondatabase/serverless` over fetch) in development and tests as in production.
 *
 * The protocol, as the driver speaks it: the connection string in `Neon-Connection-String` (its user, password
 * and database are used; the host is this endpoint's target), `Neon-Raw-Text-Output` and `Neon-Array-Mode`
 * (every value as Postgres's text, every row as an array: the driver parses them), and a body that is either one
 * `{query, params}` or a batch `{queries: [...]}` run as one transaction, its isolation level, read-only and
 * deferrable taken from the `Neon-Batch-*` headers. A statement the server refused answers 400 with Postgres's
 * error fields (the driver copies them onto its error); anything else (Postgres unreachable) answers 503.
 * Statements always go as extended-protocol queries, so a string holding several statements is refused, as Neon does.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import pg from 'pg';

export interface NeonHttpEndpoint {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Queries answered so far (a batch counts once): one per round trip the Worker made. */
  requests(): number;
  close(): Promise<void>;
}

interface Query {
  query: string;
  params?: unknown[];
}

const ERROR_FIELDS = [
  'severity', 'code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery', 'where', 'schema', 'table',
  'column', 'dataType', 'constraint', 'file', 'line', 'routine',
] as const;

const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: 'read uncommitted',
  ReadCommitted: 'read committed',
  RepeatableRead: 'repeatable read',
  Serializable: 'serializable',
};

/** Values travel as Postgres's text: the driver applies its own type parsers, as it does with Neon's answers. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/** Larger bodies are refused: a statement's parameters are metadata, never object bytes. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;

export function neonHttpEndpoint(target: { host: string; port: number }, poolSize = 10): NeonHttpEndpoint {
  const pools = new Map<string, pg.Pool>();
  let answered = 0;

  const poolFor = (connectionString: string): pg.Pool => {
    let pool = pools.get(connectionString);
    if (!pool) {
      const url = new URL(connectionString);
      pool = new pg.Pool({
        host: target.host,
        port: target.port,
        user: decodeURIComponent(url.username),
        password: decodeURIComponent(url.password),
        database: decodeURIComponent(url.pathname.slice(1)),
        max: poolSize,
        connectionTimeoutMillis: 10_000,
        idleTimeoutMillis: 30_000,
      });
      // An idle connection Postgres dropped is replaced on the next query; it must not end this process.
      pool.on('error', () => {});
      pools.set(connectionString, pool);
    }
    return pool;
  };

  const run = async (client: pg.PoolClient | pg.Pool, q: Query): Promise<Record<string, unknown>> => {
    if (typeof q?.query !== 'string') throw new BadRequest('each query needs a "query" string');
    const params = q.params ?? [];
    if (!Array.isArray(params)) throw new BadRequest('"params" must be an array');
    // queryMode (pg 8.12+, not in its types): without it pg sends a query with no parameters as a simple query,
    // which would run a string of several statements.
    const config: pg.QueryArrayConfig & { queryMode: 'extended' } = { text: q.query, values: params, rowMode: 'array', types: RAW_TEXT, queryMode: 'extended' };
    const result = await client.query(config);
    return {
      command: result.command,
      rowCount: result.rowCount,
      rowAsArray: true,
      fields: result.fields.map((f) => ({
        name: f.name,
        dataTypeID: f.dataTypeID,
        tableID: f.tableID,
        columnID: f.columnID,
        dataTypeSize: f.dataTypeSize,
        dataTypeModifier: f.dataTypeModifier,
        format: 'text',
      })),
      rows: result.rows,
    };
  };

  const batch = async (pool: pg.Pool, queries: Query[], headers: IncomingMessage['headers']): Promise<unknown> => {
    const level = ISOLATION_LEVELS[String(headers['neon-batch-isolation-level'] ?? 'ReadCommitted')];
    if (!level) throw new BadRequest('unknown Neon-Batch-Isolation-Level');
    const modes = [`isolation level ${level}`];
    if (headers['neon-batch-read-only'] === 'true') modes.push('read only');
    if (headers['neon-batch-deferrable'] === 'true') modes.push('deferrable');
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query(`begin ${modes.join(' ')}`);
      const results = [];
      try {
        for (const q of queries) results.push(await run(client, q));
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => {
          broken = true;
        });
        throw err;
      }
      return { results };
    } finally {
      client.release(broken);
    }
  };

  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    try {
      const connectionString = req.headers['neon-connection-string'];
      if (typeof connectionString !== 'string') throw new BadRequest('missing Neon-Connection-String');
      const body = JSON.parse(await readBody(req)) as Query & { queries?: Query[] };
      const pool = poolFor(connectionString);
      const result = Array.isArray(body.queries) ? await batch(pool, body.queries, req.headers) : await run(pool, body);
      answered++;
      reply(res, 200, result);
    } catch (err) {
      answered++;
      if (err instanceof BadRequest || err instanceof SyntaxError) return reply(res, 400, { message: err.message });
      if (err instanceof pg.DatabaseError) {
        const fields: Record<string, unknown> = { message: err.message };
        for (const name of ERROR_FIELDS) if (err[name] !== undefined) fields[name] = err[name];
        return reply(res, 400, fields);
      }
      reply(res, 503, { message: `cannot reach the database: ${err instanceof Error ? err.message : String(err)}` });
    }
  };

  return {
    handle: (req, res) => void answer(req, res),
    requests: () => answered,
    close: async () => {
      const ending = [...pools.values()].map((p) => p.end().catch(() => {}));
      pools.clear();
      // end() waits for statements still running; they finish on their own, and nothing waits for their answers.
      await Promise.race([Promise.all(ending), new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
    },
  };
}

class BadRequest extends Error {}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequest('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
