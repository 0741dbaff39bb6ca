/**
 * Serves one PGlite database (a single Postgres session in WASM) to many connections on the Postgres wire
 * protocol, correctly. A session has one unnamed prepared statement, one unnamed portal and one transaction, so
 * the server gives the session to one connection at a time for a whole unit of work:
 *
 * - an extended-protocol sequence (Parse, Bind, Describe, Execute, ... up to its Sync) or a simple Query runs
 *   without another connection's messages in between (pglite-socket queues single messages, so the Parse of one
 *   request met the Bind of another: "bind message supplies 2 parameters, but prepared statement "" requires 8",
 *   and worse, answers to the wrong query);
 * - a connection that leaves the session inside a transaction keeps it until the transaction ends; one that
 *   disconnects there has it rolled back first.
 *
 * Others wait their turn (FIFO). Like every single-session database, code that holds a transaction on one
 * connection while it waits for another connection deadlocks here; the orchestrator never does that.
 * https://www.postgresql.org/docs/current/protocol-flow.html
 */
import { type Server, type Socket, createServer } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
/** Messages that end a unit of work: Sync ends an extended-protocol sequence, Query is one whole. */
const ENDS_UNIT = new Set(['S', 'Q']);
const TERMINATE = 'X';

export interface WireServer {
  port: number;
  stop(): Promise<void>;
}

/** A FIFO lock on the one session, held by a connection id. */
function createSessionLock() {
  let owner: number | undefined;
  const waiting: { id: number; answer: (granted: boolean) => void }[] = [];
  return {
    holder: () => owner,
    /** Resolves true once `id` holds the session, or false if it gave up waiting (its connection closed). */
    async acquire(id: number): Promise<boolean> {
      if (owner === id) return true;
      if (owner === undefined && waiting.length === 0) {
        owner = id;
        return true;
      }
      return new Promise<boolean>((answer) => waiting.push({ id, answer }));
    },
    release(id: number): void {
      if (owner !== id) return;
      const next = waiting.shift();
      owner = next?.id;
      next?.answer(true);
    },
    cancel(id: number): void {
      for (let at = waiting.findIndex((w) => w.id === id); at >= 0; at = waiting.findIndex((w) => w.id === id)) {
        waiting.splice(at, 1)[0]?.answer(false);
      }
    },
  };
}

export async function startPgliteWireServer(db: PGlite, options: { host: string; port: number }): Promise<WireServer> {
  const lock = createSessionLock();
  const sockets = new Set<Socket>();
  let nextId = 1;

  const server: Server = createServer((socket) => {
    const id = nextId++;
    sockets.add(socket);
    socket.setNoDelay(true);
    let buffer = Buffer.alloc(0);
    let started = false;
    let closed = false;
    let unit: Buffer[] = [];
    // One connection's data is handled in order; its units wait for the session in turn.
    let work = Promise.resolve();

    const run = async (messages: Buffer[], endsUnit: boolean) => {
      // A connection that closed meanwhile runs nothing; close() hands the session on.
      if (!(await lock.acquire(id)) || closed) return;
      await db.runExclusive(async () => {
        for (const message of messages) {
          await db.execProtocolRawStream(new Uint8Array(message), { onRawData: (data) => void (closed || socket.write(data)) });
        }
      });
      // Keep the session while a sequence is unfinished or a transaction is open; otherwise pass it on.
      if (endsUnit && !db.isInTransaction()) lock.release(id);
    };

    const close = async () => {
      if (closed) return;
      closed = true;
      sockets.delete(socket);
      lock.cancel(id);
      await work.catch(() => {});
      if (lock.holder() === id) {
        if (db.isInTransaction()) await db.exec('ROLLBACK').catch(() => {});
        lock.release(id);
      }
    };

    const handle = async (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        if (!started) {
          // Startup phase: length-prefixed messages with no type byte.
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const message = buffer.subarray(0, length);
          buffer = buffer.subarray(length);
          const code = message.readInt32BE(4);
          if (code === SSL_REQUEST) {
            socket.write('N');
            continue;
          }
          if (code === CANCEL_REQUEST) {
            socket.end();
            return;
          }
          started = true;
          await run([message], true);
          continue;
        }
        if (buffer.length < 5) return;
        const length = 1 + buffer.readInt32BE(1);
        if (buffer.length < length) return;
        const message = Buffer.from(buffer.subarray(0, length));
        buffer = buffer.subarray(length);
        const type = String.fromCharCode(message[0] ?? 0);
        // Terminate ends this connection, never the shared session.
        if (type === TERMINATE) {
          socket.end();
          return;
        }
        unit.push(message);
        if (ENDS_UNIT.has(type) || type === 'H') {
          const messages = unit;
          unit = [];
          await run(messages, ENDS_UNIT.has(type));
        }
      }
    };

    socket.on('data', (data: Buffer) => {
      work = work
        .then(() => handle(data))
        .catch(() => {
          socket.destroy();
        });
    });
    socket.on('close', () => void close());
    socket.on('error', () => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    port: options.port,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
