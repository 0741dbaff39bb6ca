/**
 * Stands in for Neon's WebSocket proxy locally: each WebSocket connection from the Worker becomes one TCP
 * connection to a Postgres server, bytes relayed unchanged both ways.
 */
import { connect } from 'node:net';
import { WebSocketServer } from 'ws';

export interface Bridge {
  port: number;
  close(): Promise<void>;
}

export async function startPgBridge(target: { host: string; port: number }, port = 0): Promise<Bridge> {
  const server = new WebSocketServer({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.on('connection', (ws) => {
    const socket = connect(target.port, target.host);
    socket.on('data', (data) => ws.send(data));
    socket.on('close', () => ws.close());
    socket.on('error', () => ws.terminate());
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      socket.write(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
    });
    ws.on('close', () => socket.end());
    ws.on('error', () => socket.destroy());
  });
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  return {
    port: actualPort,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of server.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}
