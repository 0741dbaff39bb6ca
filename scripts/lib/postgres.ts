import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { userInfo } from "node:os";
import { freePort } from "./ports.ts";
import { findBinary } from "./system-deps.ts";

export interface PostgresServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const USER = "s3o";
const PASSWORD = "s3o";
const DATABASE = "s3o";

const isRoot = (): boolean => userInfo().uid === 0;

const PG_BIN_DIR = "/usr/lib/postgresql/15/bin";

function pgBinary(name: string): string {
  // Debian keeps each major version's tools apart and puts version-guessing wrappers on PATH: ask 15 directly.
  const path = existsSync(join(PG_BIN_DIR, name)) ? join(PG_BIN_DIR, name) : findBinary(name);
  if (path === undefined) throw new Error(`PostgreSQL binary ${name} not found (install postgresql-15)`);
  return path;
}

/** Runs a PostgreSQL tool, as the postgres OS user when we are root (the server refuses to run as root). */
function run(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const [cmd, cmdArgs] = isRoot() ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  return new Promise((resolvePromise, reject) => {
    // cwd "/": the postgres user may not be allowed into the caller's working directory.
    const child = spawn(cmd, cmdArgs, { cwd: "/", env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code === 0) resolvePromise(output);
      else reject(new Error(`${bin} ${args.join(" ")} exited with ${code}:\n${output.trim()}`));
    });
  });
}

/** As root the server runs as `postgres`, which must be able to reach `dir` through its parents. */
function handOverToPostgresUser(dir: string): void {
  const { uid, gid } = lookupPostgresIds();
  chownSync(dir, uid, gid);
  for (let parent = dirname(dir); parent !== dirname(parent); parent = dirname(parent)) {
    const mode = statSync(parent).mode;
    // Search permission only (no listing): mkdtemp makes 0700 folders postgres could not enter.
    if ((mode & 0o001) === 0) chmodSync(parent, (mode & 0o7777) | 0o001);
  }
}

function lookupPostgresIds(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  const fields = line?.split(":");
  if (fields === undefined || fields[2] === undefined || fields[3] === undefined) {
    throw new Error("no postgres OS user: install postgresql-15 (its package creates the user)");
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** Kills `pid` with `signal` if this process dies without running its exit handlers (SIGKILL, SIGINT...). */
function spawnWatchdog(pid: number, signal: string): number | undefined {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -${signal} ${pid} 2>/dev/null`;
  const child = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
  child.unref();
  return child.pid;
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Starts a fresh, throwaway PostgreSQL 15 cluster in `dir` (an earlier one there is deleted), on 127.0.0.1 only. */
export async function startPostgres(opts: { dir: string; port?: number }): Promise<PostgresServer> {
  const dir = resolve(opts.dir);
  const port = opts.port ?? (await freePort());
  const dataDir = join(dir, "data");
  const logFile = join(dir, "postgres.log");
  const pwFile = join(dir, "pwfile");
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(logFile, { force: true });
  mkdirSync(dir, { recursive: true });
  if (isRoot()) handOverToPostgresUser(dir);

  writeFileSync(pwFile, `${PASSWORD}\n`, { mode: 0o644 });
  try {
    // --no-sync: a test cluster need not survive a power cut, and it saves most of initdb's time.
    await run(pgBinary("initdb"), [
      "-D", dataDir, "-U", USER, `--pwfile=${pwFile}`, "--auth-local=scram-sha-256", "--auth-host=password",
      "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
    ]);
  } finally {
    rmSync(pwFile, { force: true });
  }

  const settings = [
    `listen_addresses = '127.0.0.1'`,
    `port = ${port}`,
    `unix_socket_directories = '${dir}'`,
    `max_connections = 200`,
    `fsync = off`,
    `synchronous_commit = off`,
    `full_page_writes = off`,
  ];
  writeFileSync(join(dataDir, "postgresql.conf"), `${settings.join("\n")}\n`, { flag: "a" });

  try {
    await run(pgBinary("pg_ctl"), ["start", "-w", "-t", "60", "-D", dataDir, "-l", logFile]);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`PostgreSQL did not start: ${reason}\n--- ${logFile} ---\n${logTail(logFile)}`, { cause: error });
  }
  const postmasterPid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  const watchdogPid = spawnWatchdog(postmasterPid, "QUIT");
  // The watchdog leads its own process group: killing the group takes its `sleep` along.
  const stopWatchdog = (): void => killQuietly(watchdogPid === undefined ? undefined : -watchdogPid, "SIGKILL");
  // SIGQUIT is PostgreSQL's immediate shutdown; it can be sent synchronously from an exit handler.
  const onExit = (): void => {
    killQuietly(postmasterPid, "SIGQUIT");
    stopWatchdog();
  };
  process.on("exit", onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off("exit", onExit);
      stopWatchdog();
      await run(pgBinary("pg_ctl"), ["stop", "-m", "immediate", "-w", "-D", dataDir]).catch(() => onExit());
    })();
    return stopping;
  };

  try {
    await run(pgBinary("createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", USER, DATABASE], {
      PGPASSWORD: PASSWORD,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`, port, stop };
}

function logTail(file: string, lines = 20): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
