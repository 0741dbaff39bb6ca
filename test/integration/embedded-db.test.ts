/**
 * The embedded database of `npm run dev` (PGlite, one Postgres session in WASM) behind a wire-protocol server, as
 * many connections use it at once: each connection's extended-protocol messages (Parse, Bind, Execute, Sync) must
 * run together, and a transaction must keep the session to itself, or two requests' queries and answers cross.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, type Server, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '../../scripts/lib/embedded-postgres.ts';

const dir = mkdtempSync(join(tmpdir(), 's3o-embedded-db-'));
let db: EmbeddedPostgres;
let splitter: Server;
/** The database as the Worker reaches it: through a relay that passes each protocol message on by itself. */
let url: string;

beforeAll(async () => {
  db = await startEmbeddedPostgres(join(dir, 'data'));
  splitter = await startMessageSplitter(db.port);
  url = `postgres://postgres:postgres@127.0.0.1:${(splitter.address() as AddressInfo).port}/postgres`;
});

afterAll(async () => {
  splitter?.close();
  await db?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The Worker's database driver talks through a WebSocket bridge (scripts/lib/pg-ws-bridge.ts) that writes every
 * WebSocket message on its own, so Parse, Bind and Sync of one query reach the server as separate writes, with
 * other connections' writes between them. This relay does the same for `pg` clients: the client-to-server
 * direction is cut at message boundaries and each message written separately, a turn of the event loop apart.
 */
async function startMessageSplitter(targetPort: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    let pending = Buffer.alloc(0);
    let started = false;
    let sending = Promise.resolve();
    client.on('data', (data: Buffer) => {
      pending = Buffer.concat([pending, data]);
      const messages: Buffer[] = [];
      for (;;) {
        // The startup phase's messages have no type byte; every later one has one before its length.
        const headerBytes = started ? 5 : 4;
        if (pending.length < headerBytes) break;
        const length = started ? 1 + pending.readInt32BE(1) : pending.readInt32BE(0);
        if (pending.length < length) break;
        const message = pending.subarray(0, length);
        pending = pending.subarray(length);
        // SSLRequest (80877103) comes before the real startup message.
        if (!started && message.length === 8 && message.readInt32BE(4) === 80877103) {
          messages.push(message);
          continue;
        }
        started = true;
        messages.push(message);
      }
      sending = sending.then(async () => {
        for (const message of messages) {
          upstream.write(message);
          await new Promise((r) => setImmediate(r));
        }
      });
    });
    upstream.on('data', (data) => client.write(data));
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function connectClients(n: number): Promise<pg.Client[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      return client;
    }),
  );
}

describe('the embedded database under concurrent connections', () => {
  it('answers every connection its own query: parameterised statements of 32 connections never cross', async () => {
    const clients = await connectClients(32);
    const problems: string[] = [];
    try {
      await Promise.all(
        clients.map(async (client, c) => {
          for (let i = 0; i < 40; i++) {
            const tag = `client ${c} query ${i}`;
            try {
              // Different statements with different parameter counts, as the orchestrator's queries are.
              if (i % 2 === 0) {
                const { rows } = await client.query<{ tag: string; n: number }>('select $1::text as tag, $2::int as n', [tag, i]);
                if (rows[0]?.tag !== tag || rows[0]?.n !== i) problems.push(`${tag}: got ${JSON.stringify(rows)}`);
              } else {
                const { rows } = await client.query<{ joined: string }>("select $1::text || '|' || $2::text || '|' || $3::text as joined", [tag, 'b', 'c']);
                if (rows[0]?.joined !== `${tag}|b|c`) problems.push(`${tag}: got ${JSON.stringify(rows)}`);
              }
            } catch (err) {
              problems.push(`${tag}: ${err instanceof Error ? err.message : String(err)}`);
            }
          }
        }),
      );
    } finally {
      await Promise.all(clients.map((client) => client.end().catch(() => {})));
    }
    expect(problems).toEqual([]);
  });

  it('keeps a transaction to its own connection: others neither see its rows early nor run inside it', async () => {
    const setup = new pg.Client({ connectionString: url });
    await setup.connect();
    await setup.query('create table if not exists tx_probe (id int primary key, owner text)');
    await setup.end();
    const clients = await connectClients(8);
    const problems: string[] = [];
    try {
      await Promise.all(
        clients.map(async (client, c) => {
          for (let i = 0; i < 10; i++) {
            const id = c * 100 + i;
            try {
              await client.query('begin');
              await client.query('insert into tx_probe (id, owner) values ($1, $2)', [id, `client ${c}`]);
              // A row another connection wrote inside its open transaction must not show here.
              const { rows } = await client.query<{ owner: string }>('select owner from tx_probe where id = $1', [id]);
              if (rows[0]?.owner !== `client ${c}`) problems.push(`client ${c} row ${id}: ${JSON.stringify(rows)}`);
              if (i % 3 === 0) await client.query('rollback');
              else await client.query('commit');
            } catch (err) {
              problems.push(`client ${c} row ${id}: ${err instanceof Error ? err.message : String(err)}`);
              await client.query('rollback').catch(() => {});
            }
          }
        }),
      );
      const check = clients[0]!;
      const { rows } = await check.query<{ n: string }>('select count(*) as n from tx_probe');
      // Rolled back: i = 0, 3, 6, 9 of each client's ten.
      expect(Number(rows[0]?.n)).toBe(8 * 6);
    } finally {
      await Promise.all(clients.map((client) => client.end().catch(() => {})));
    }
    expect(problems).toEqual([]);
  });

  it('a connection that dies inside a transaction leaves nothing behind and blocks no one', async () => {
    const doomed = new pg.Client({ connectionString: url });
    doomed.on('error', () => {});
    await doomed.connect();
    await doomed.query('create table if not exists tx_abandoned (id int)');
    await doomed.query('begin');
    await doomed.query('insert into tx_abandoned values (1)');
    // The client vanishes without COMMIT or a Terminate message.
    (doomed as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    const { rows } = await other.query<{ n: string }>('select count(*) as n from tx_abandoned');
    await other.end();
    expect(Number(rows[0]?.n)).toBe(0);
  });
});
