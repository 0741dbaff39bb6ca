/** The CLI as an operator runs it (`bin/s3-orchestrator.js`), without blocking the test process (which hosts the
 * database bridge and s3rver, so a synchronous spawn would starve them). */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = startCli(args, env);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

/** The CLI started and left running (a command that follows something until interrupted): the caller stops it. */
export function startCli(args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['bin/s3-orchestrator.js', ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
}

/** What points the CLI at a test stack with its development admin token (no CLI config file is read). */
export function stackCliEnv(endpoint: string, token: string): Record<string, string> {
  return { S3O_URL: endpoint, S3O_ADMIN_TOKEN: token, S3O_CLI_CONFIG: join(tmpdir(), 'no-such-s3o-cli.json') };
}

/** The CLI pointed at a test stack with its development admin token. */
export function cliFor(endpoint: () => string, token: string): (...args: string[]) => Promise<CliResult> {
  return (...args) => runCli(args, stackCliEnv(endpoint(), token));
}
