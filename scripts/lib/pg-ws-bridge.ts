/**
 * Stands in for Neon's WebSocket proxy locally: each WebSocket connection from the Worker becomes one TCP
 * connection to a Postgres server, bytes relayed unchanged both ways.
 */
import { connect } from 'node:net';
import { WebSocketServer } from 'ws';

/** The Postgres Terminate message: 'X' and a length of 4. */
const TERMINATE = Buffer.from([0x58, 0, 0, 0, 4]);

export interface Bridge {
  port: number;
  /** Connections the Worker has opened through this bridge so far. */
  connections(): number;
  close(): Promise<void>;
}

export async function startPgBridge(target: { host: string; port: number }, port = 0): Promise<Bridge> {
  const server = new WebSocketServer({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
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
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    port: actualPort,
    connections: () => opened,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
