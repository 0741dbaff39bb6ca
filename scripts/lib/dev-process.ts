/**
 * `npm run dev` as a child process, for the tests and the benchmark that drive the default local stack: start it,
 * wait for its "is running at" line, and stop it the way an operator does (SIGTERM).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

export interface DevProcess {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr together. */
  output(): string;
}

/**
 * Starts the launcher (or `npm run dev` itself with `viaNpm`, which puts npm and a shell in between, as a
 * service manager sees it) with PORT and the environment given; `log` also copies its output to a file.
 */
export async function startDev(opts: { port: number; env: Record<string, string>; viaNpm?: boolean; log?: string; timeoutMs?: number }): Promise<DevProcess> {
  const [command, args] = opts.viaNpm ? ['npm', ['run', 'dev']] : [process.execPath, ['scripts/dev.ts']];
  const child = spawn(command, args, { env: { ...process.env, PORT: String(opts.port), ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (d: Buffer) => {
      output += d.toString();
      if (opts.log) appendFileSync(opts.log, d);
    });
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 240_000);
  while (!output.includes('is running at')) {
    if (child.exitCode !== null) throw new Error(`npm run dev exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm run dev did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, output: () => output };
}

/** SIGTERM, as Ctrl-C or a service manager stops it; resolves with its exit code. */
export async function stopDev(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  return exited;
}
