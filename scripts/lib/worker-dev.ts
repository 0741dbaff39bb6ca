/**
 * Runs the Worker under `wrangler dev` (workerd, local KV/DO/Queues) on 127.0.0.1 and waits until it answers.
 * wrangler is started with this Node directly, so signalling the child stops wrangler itself, not a wrapper.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.ts';
import type { HeadlessWorkerOptions } from './worker-dev-headless.ts';

export interface WorkerProcess {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Drives the cron handler, as Cloudflare would on schedule. */
  triggerCron(cron?: string): Promise<Response>;
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRANGLER = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
const HEADLESS = fileURLToPath(new URL('worker-dev-headless.ts', import.meta.url));

export interface WorkerOptions {
  port?: number;
  persistDir: string;
  vars: Record<string, string>;
  /** Where wrangler's own output goes; defaults to this process's stderr. */
  output?: 'inherit' | 'pipe' | 'ignore';
  startTimeoutMs?: number;
  /**
   * The wrangler configuration to run, absolute or relative to the project root (wrangler resolves its `main`
   * from the file's folder). Defaults to the project's own wrangler.toml, the orchestrator.
   */
  configPath?: string;
  /** Drive the cron handler once the Worker answers, as Cloudflare does after a deploy (default true). */
  runCronOnStart?: boolean;
  /** wrangler's log level, which also filters the Worker's console output (default warn). */
  logLevel?: 'info' | 'log' | 'warn';
  /**
   * With DevTools' inspector, as `wrangler dev` always runs (default true). The benchmarks turn it off, as a
   * deployed Worker has none: it relays every console line of the Worker to wrangler (worker-dev-headless.ts).
   */
  inspector?: boolean;
}

export async function startWorker(options: WorkerOptions): Promise<WorkerProcess> {
  const port = options.port ?? (await freePort());
  // Local Workers are development Workers (the admin token works only there), unless a caller says otherwise.
  const vars = { S3O_ENVIRONMENT: 'development', ...options.vars };
  const logLevel = options.logLevel ?? 'warn';
  const configPath = resolve(ROOT, options.configPath ?? 'wrangler.toml');
  const args =
    options.inspector === false
      ? [HEADLESS, JSON.stringify({ configPath, port, persistDir: options.persistDir, vars, logLevel } satisfies HeadlessWorkerOptions)]
      : [
          WRANGLER,
          'dev',
          '--ip', '127.0.0.1',
          '--port', String(port),
          '--inspector-port', String(await freePort()),
          '--persist-to', options.persistDir,
          '--show-interactive-dev-session=false',
          '--log-level', logLevel,
          '--config', configPath,
          ...Object.entries(vars).flatMap(([name, value]) => ['--var', `${name}:${value}`]),
        ];
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false', NO_COLOR: '1' },
    stdio: ['ignore', options.output ?? 'inherit', options.output ?? 'inherit'],
    // Its own process group, so wrangler's node child and workerd can be killed together.
    detached: true,
  });
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  // If this process dies without stopping the Worker (a crashed test or script), do not leave wrangler behind.
  const killOnExit = () => {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killOnExit);
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      process.off('exit', killOnExit);
      resolve();
    }),
  );
  // A loaded two-core machine (another Worker sealing gigabytes beside it) has taken over 60 s; the tests' hooks
  // allow 180 s.
  const deadline = Date.now() + (options.startTimeoutMs ?? 150_000);
  while (true) {
    if (exited) throw new Error(`wrangler dev exited during start-up (code ${child.exitCode})`);
    try {
      const response = await fetch(`${url}/health`);
      await response.body?.cancel();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`wrangler dev did not answer on ${url} in time`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  // Cloudflare runs the cron soon after a deploy; do the same so start-up work (quota sync) happens now.
  if (options.runCronOnStart ?? true) await fetch(`${url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent('* * * * *')}`).then((r) => r.body?.cancel());
  return {
    url,
    port,
    pid: child.pid ?? 0,
    child,
    triggerCron: (cron = '* * * * *') => fetch(`${url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent(cron)}`),
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
}
