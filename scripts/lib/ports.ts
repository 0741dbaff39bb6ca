import { readFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";

// Ports that listen(0) hands out come from the kernel's ephemeral range, which outgoing connections also draw
// from: between our probe and the server's bind, a client socket can take the port (seen here under load).
// So probe random ports below that range instead, and never hand out the same one twice in a process.
const handedOut = new Set<number>();

function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/);
    const start = Number(low);
    return Number.isInteger(start) && start > 12_000 ? start : 0;
  } catch {
    return 0;
  }
}

function listenOnce(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(undefined));
    server.listen(port, "127.0.0.1", () => {
      const address = server.address();
      const bound = address !== null && typeof address !== "string" ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/** A TCP port on 127.0.0.1 that nothing listens on now (and that this process has not handed out before). */
export async function freePort(): Promise<number> {
  const rangeStart = ephemeralRangeStart();
  for (let attempt = 0; attempt < 200; attempt++) {
    // Above 10000 to stay clear of well-known ports and Ceph's OSD range (6800-7300).
    const candidate = rangeStart > 0 ? 10_000 + Math.floor(Math.random() * (rangeStart - 10_000)) : 0;
    if (handedOut.has(candidate)) continue;
    const port = await listenOnce(candidate);
    if (port !== undefined && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error("could not find a free TCP port on 127.0.0.1");
}

function tryConnect(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await tryConnect(port))) {
    if (Date.now() >= deadline) {
      throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
