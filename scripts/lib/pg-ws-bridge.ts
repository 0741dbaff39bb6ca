/**
 * Stands in for Neon's two doors locally, on one port: its WebSocket proxy (each WebSocket connection from the
 * Worker becomes one TCP connection to a Postgres server, bytes relayed unchanged both ways; the driver's
 * transactions) and its HTTP query endpoint `POST /sql` (single statements and batches; neon-http-endpoint.ts).
 */
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { neonHttpEndpoint } from './neon-http-endpoint.ts';

/** The Postgres Terminate message: 'X' and a length of 4. */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

export interface Bridge {
  port: number;
  /** WebSocket connections the Worker has opened through this bridge so far. */
  connections(): number;
  /** HTTP queries (a batch counts once) the Worker has sent so far. */
  httpQueries(): number;
  close(): Promise<void>;
}

export async function startPgBridge(target: { host: string; port: number }, port = 0): Promise<Bridge> {
  const endpoint = neonHttpEndpoint(target);
  const http = createServer((req, res) => {
    if (req.method === 'POST' && new URL(req.url ?? '/', 'http://localhost').pathname === '/sql') return endpoint.handle(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: POST /sql or a WebSocket upgrade\n');
  });
  const listening = new Promise<void>((resolve, reject) => {
    http.once('listening', resolve);
    http.once('error', reject);
  });
  // Every socket, upgraded or not, so that close() can end them all (a paused database answers nothing).
  const sockets = new Set<Socket>();
  http.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const server = new WebSocketServer({ server: http });
  // The server's own errors (a port in use) reach `listening` above; ws re-emits them here, where they must not throw.
  server.on('error', () => {});
  http.listen(port, '127.0.0.1');
  await listening;
  let opened = 0;
  server.on('connection', (ws) => {
    opened++;
    const socket = connect(target.port, target.host);
    socket.on('data', (data) => ws.send(data));
    socket.on('close', () => ws.close());
    socket.on('error', () => ws.terminate());
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      socket.write(bytes);
      // PGlite's socket server keeps the connection open after Terminate; Neon's proxy (and Postgres) close it.
      // An open WebSocket keeps a Worker's cron invocation from finishing, so close like the real thing.
      if (bytes.equals(TERMINATE)) {
        socket.end();
        ws.close();
      }
    });
    ws.on('close', () => socket.end());
    ws.on('error', () => socket.destroy());
  });
  const address = http.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    port: actualPort,
    connections: () => opened,
    httpQueries: () => endpoint.requests(),
    close: async () => {
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      server.close();
      for (const client of server.clients) client.terminate();
      for (const socket of sockets) socket.destroy();
      await closed;
      await endpoint.close();
    },
  };
}
