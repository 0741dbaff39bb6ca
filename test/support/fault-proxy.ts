/**
 * A loopback HTTP proxy in front of a backend that the test controls: pass requests through, answer 500, drop the
 * connection ("down"), or delay. It forwards the Host header unchanged, so SigV4 signatures made for the proxy's
 * address still verify at the backend.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultMode = 'pass' | 'fail' | 'down' | 'slow';

export interface FaultProxy {
  endpoint: string;
  /** Requests that reached the proxy since the last reset. */
  requests(): number;
  resetCount(): void;
  setMode(mode: FaultMode, delayMs?: number): void;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let mode: FaultMode = 'pass';
  let delayMs = 0;
  let count = 0;
  const server: Server = createServer((req, res) => {
    count++;
    if (mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (mode === 'fail') {
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' }).end('<Error><Code>InternalError</Code><Message>injected fault</Message></Error>');
      return;
    }
    const forward = () => {
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    };
    if (mode === 'slow') setTimeout(forward, delayMs);
    else forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests: () => count,
    resetCount: () => {
      count = 0;
    },
    setMode(next, delay = 0) {
      mode = next;
      delayMs = delay;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
