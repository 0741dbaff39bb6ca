import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { AwsClient } from "aws4fetch";
import { freePort } from "./ports.ts";

export interface RadosgwServer {
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  stop(): Promise<void>;
  /** False once radosgw has exited: radosgw 16 aborts on some requests, and tests should notice. */
  alive(): boolean;
}

const ACCESS_KEY_ID = "radosgw-test-access";
const SECRET_ACCESS_KEY = "radosgw-test-secret-0123456789abcdef";
const REGION = "us-east-1";
const STARTUP_TIMEOUT_MS = 90_000;

// Created up front: radosgw would otherwise create each one lazily, and the first CreateBucket would take seconds.
const RGW_POOLS = [
  ".rgw.root",
  "default.rgw.control",
  "default.rgw.meta",
  "default.rgw.log",
  "default.rgw.buckets.index",
  "default.rgw.buckets.data",
  "default.rgw.buckets.non-ec",
];

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number): string {
  // `$name` is expanded by Ceph itself, per daemon or client.
  return `[global]
fsid = ${fsid}
mon host = [v2:127.0.0.1:${monPort}]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv6 = false
# One node, no secrets: auth off. Without the two crc modes radosgw loops on auth error -13.
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc secure
ms client mode = crc secure
keyring = ${dir}/keyring
# Everything under dir, so that several clusters can run side by side and nothing lands in /etc or /var.
run dir = ${dir}/run
admin socket = ${dir}/run/$name.$pid.asok
pid file = ${dir}/run/$name.pid
log file = ${dir}/log/$name.log
mon cluster log file = default=${dir}/log/ceph.$channel.log cluster=${dir}/log/ceph.log
crash dir = ${dir}/crash
mon data = ${dir}/mon/$id
osd data = ${dir}/osd/$id
rgw data = ${dir}/rgw
# A single OSD: size 1 pools, placement across OSDs rather than hosts, no autoscaler (no mgr runs).
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
# A nearly full disk must not stop a throwaway mon.
mon data avail crit = 1
# Pool creation waits on map proposals: propose quickly instead of batching for a second.
paxos propose interval = 0.05
# Keep RAM small: data lives in memory, capped, and caches stay low.
osd objectstore = memstore
memstore device bytes = 3221225472
osd memory target = 268435456

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:${rgwPort}
`;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/** Starts a one-node Ceph cluster (mon + memstore OSD) and radosgw, all state under `dir` (wiped first). */
export async function startRadosgw(opts: { dir: string; port?: number }): Promise<RadosgwServer> {
  const dir = resolve(opts.dir);
  const logDir = join(dir, "log");
  // Objects live in OSD memory, so an earlier run's state is worthless: start from scratch.
  for (const stale of ["monmap", "mon", "osd", "run", "log", "rgw", "crash"]) {
    rmSync(join(dir, stale), { recursive: true, force: true });
  }
  for (const sub of ["mon/a", "osd/0", "run", "log", "rgw", "crash"]) mkdirSync(join(dir, sub), { recursive: true });
  const monPort = await freePort();
  let port = opts.port ?? (await freePort());
  while (port === monPort) port = await freePort();
  const conf = join(dir, "ceph.conf");
  const fsid = randomUUID();
  writeFileSync(conf, cephConf(dir, fsid, monPort, port));

  const daemons: ChildProcess[] = [];
  const pidsFile = join(dir, "run", "daemons.pids");
  writeFileSync(pidsFile, "");
  const watchdog = spawnWatchdog(pidsFile);
  // Test data is disposable, so SIGKILL: radosgw ignores SIGTERM for a long time once the mon is gone.
  const killAll = (): void => {
    for (const daemon of daemons) if (isRunning(daemon)) killQuietly(daemon.pid, "SIGKILL");
    // The watchdog leads its own process group: take its `sleep` along.
    if (watchdog.pid !== undefined) killQuietly(-watchdog.pid, "SIGKILL");
  };
  process.on("exit", killAll);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.off("exit", killAll);
      killAll();
      await Promise.all(
        daemons.filter(isRunning).map((daemon) => {
          daemon.ref(); // an unref'd child would let Node quit before its exit is seen
          return new Promise<void>((done) => daemon.once("exit", () => done()));
        }),
      );
    })();
    return stopping;
  };

  /** Runs a command to completion; rejects with its output, and the tail of `log`, when it fails. */
  const run = (bin: string, args: string[], log: string): Promise<string> =>
    new Promise((done, fail) => {
      const child = spawn(bin, ["-c", conf, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), STARTUP_TIMEOUT_MS);
      child.once("error", fail);
      child.once("close", (code, signal) => {
        clearTimeout(timer);
        if (code === 0) done(output);
        else {
          const why = signal === null ? `exited with ${code}` : `was killed (${signal}, timeout)`;
          fail(new Error(`${bin} ${args.join(" ")} ${why}:\n${output.trim()}\n--- ${log} ---\n${tail(log)}`));
        }
      });
    });

  const startDaemon = (bin: string, args: string[], name: string): ChildProcess => {
    const out = openSync(join(logDir, `${name}.out`), "a");
    const child = spawn(bin, ["-f", "-c", conf, ...args], { stdio: ["ignore", out, out] });
    closeSync(out);
    // Never keep the caller's event loop alive: the exit handler or watchdog ends the daemons.
    child.unref();
    child.once("error", () => undefined);
    daemons.push(child);
    if (child.pid !== undefined) appendFileSync(pidsFile, `${child.pid}\n`);
    return child;
  };

  const assertRunning = (child: ChildProcess, name: string): void => {
    if (isRunning(child)) return;
    throw new Error(
      `${name} exited during start-up (${child.exitCode ?? child.signalCode}):\n` +
        `--- ${name}.out ---\n${tail(join(logDir, `${name}.out`), 10)}\n` +
        `--- ${name}.log ---\n${tail(join(logDir, `${name}.log`))}`,
    );
  };

  try {
    const monmap = join(dir, "monmap");
    await run("monmaptool", ["--create", "--addv", "a", `[v2:127.0.0.1:${monPort}]`, "--fsid", fsid, monmap], conf);
    await run("ceph-mon", ["--mkfs", "-i", "a", "--monmap", monmap], join(logDir, "mon.a.log"));
    const mon = startDaemon("ceph-mon", ["-i", "a"], "mon.a");

    const osdUuid = randomUUID();
    const osdId = (await run("ceph", ["osd", "new", osdUuid], join(logDir, "mon.a.log"))).trim();
    await run("ceph-osd", ["--mkfs", "-i", osdId, "--osd-uuid", osdUuid], join(logDir, `osd.${osdId}.log`));
    const osd = startDaemon("ceph-osd", ["-i", osdId], `osd.${osdId}`);

    await Promise.all(
      RGW_POOLS.map(async (pool) => {
        await run("ceph", ["osd", "pool", "create", pool], join(logDir, "mon.a.log"));
        await run("ceph", ["osd", "pool", "application", "enable", pool, "rgw"], join(logDir, "mon.a.log"));
      }),
    );
    await run(
      "radosgw-admin",
      ["user", "create", "--uid", "test", "--display-name", "test", "--access-key", ACCESS_KEY_ID, "--secret", SECRET_ACCESS_KEY],
      join(logDir, `osd.${osdId}.log`),
    );
    assertRunning(osd, `osd.${osdId}`);

    const rgw = startDaemon("radosgw", ["-n", "client.rgw.a"], "client.rgw.a");

    const endpoint = `http://127.0.0.1:${port}`;
    const client = new AwsClient({
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET_ACCESS_KEY,
      region: REGION,
      service: "s3",
      retries: 0,
    });
    const deadline = Date.now() + STARTUP_TIMEOUT_MS;
    let lastStatus = "no answer";
    for (;;) {
      for (const [child, name] of [[mon, "mon.a"], [osd, `osd.${osdId}`], [rgw, "client.rgw.a"]] as const) {
        assertRunning(child, name);
      }
      try {
        const response = await client.fetch(`${endpoint}/`, { signal: AbortSignal.timeout(5000) });
        await response.arrayBuffer();
        if (response.status === 200) break;
        lastStatus = `HTTP ${response.status}`;
      } catch (error) {
        lastStatus = error instanceof Error ? error.message : String(error);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `radosgw did not answer a signed ListBuckets with 200 within ${STARTUP_TIMEOUT_MS} ms (${lastStatus}):\n` +
            tail(join(logDir, "client.rgw.a.log")),
        );
      }
      await sleep(100);
    }

    return {
      endpoint,
      port,
      accessKeyId: ACCESS_KEY_ID,
      secretAccessKey: SECRET_ACCESS_KEY,
      region: REGION,
      stop,
      alive: () => isRunning(rgw),
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Kills the daemons listed in `pidsFile` if this process dies without running its exit handlers (SIGKILL...). */
function spawnWatchdog(pidsFile: string): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 $(cat '${pidsFile}') 2>/dev/null`;
  const child = spawn("sh", ["-c", script], { detached: true, stdio: "ignore" });
  child.unref();
  return child;
}
