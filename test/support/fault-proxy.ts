/**
 * A loopback HTTP proxy in front of a backend that the test controls: pass requests through, answer 500, drop the
 * connection ("down"), delay, or hold requests unanswered until the mode changes and then drop them ("hold": a
 * backend that never answered, so a test can stop the Worker while a call is in flight), or let the backend do the
 * request and hold its answer until the mode changes, then deliver it ("hold-answer": a backend whose answer is
 * late, so a test can order what the backend did apart from what the Worker learned). A fault can be limited
 * to some HTTP methods; other requests pass. It forwards the Host header unchanged, so SigV4 signatures made for the proxy's
 * address still verify at the backend.
 */
import { createServer, type IncomingMessage, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultMode = 'pass' | 'fail' | 'down' | 'slow' | 'hold' | 'hold-answer';

export interface FaultProxy {
  endpoint: string;
  /** Requests that reached the proxy since the last reset. */
  requests(): number;
  resetCount(): void;
  /** `only`: the fault hits these methods only, the first `after` of them still pass, then `times` of them at most. */
  setMode(mode: FaultMode, delayMs?: number, only?: { methods: string[]; times?: number; after?: number }): void;
  /** Requests parked by 'hold', or answers parked by 'hold-answer', right now. */
  held(): number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let mode: FaultMode = 'pass';
  let delayMs = 0;
  let methods: string[] | undefined;
  let faultsLeft = Infinity;
  let passFirst = 0;
  let count = 0;
  const parked = new Set<IncomingMessage>();
  const parkedAnswers = new Set<() => void>();
  const server: Server = createServer((req, res) => {
    count++;
    const matching = mode !== 'pass' && (methods === undefined || methods.includes(req.method ?? ''));
    let faulty = false;
    if (matching && passFirst > 0) passFirst--;
    else if (matching && faultsLeft > 0) {
      faulty = true;
      faultsLeft--;
    }
    if (faulty && mode === 'hold') {
      parked.add(req);
      req.on('close', () => parked.delete(req));
      return;
    }
    if (faulty && mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (faulty && mode === 'fail') {
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' }).end('<Error><Code>InternalError</Code><Message>injected fault</Message></Error>');
      return;
    }
    const holdAnswer = faulty && mode === 'hold-answer';
    const forward = () => {
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          const deliver = () => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          };
          if (holdAnswer) parkedAnswers.add(deliver);
          else deliver();
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    };
    if (faulty && mode === 'slow') setTimeout(forward, delayMs);
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
    setMode(next, delay = 0, only) {
      mode = next;
      delayMs = delay;
      methods = only?.methods;
      faultsLeft = only?.times ?? Infinity;
      passFirst = only?.after ?? 0;
      for (const req of parked) req.socket.destroy();
      parked.clear();
      for (const deliver of parkedAnswers) deliver();
      parkedAnswers.clear();
    },
    held: () => parked.size + parkedAnswers.size,
    close: () =>
      new Promise<void>((resolve) => {
        for (const req of parked) req.socket.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
