/**
 * Where the CLI sends admin requests and how it authenticates: flags, then environment, then a small JSON file
 * (`S3O_CLI_CONFIG`, else `.data/cli.json` in the current folder, which `npm run dev` writes, else
 * `~/.config/s3-orchestrator/cli.json`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface Target {
  url: string;
  headers: Record<string, string>;
  /** Where the settings came from, for error messages. */
  source: string;
}

interface FileSettings {
  url?: string;
  token?: string;
  access_client_id?: string;
  access_client_secret?: string;
}

/** The connection options as typed (commands.ts hands over REMOTE_OPTIONS' values). */
export interface ConnectionFlags {
  url?: string;
  token?: string;
  'access-client-id'?: string;
  'access-client-secret'?: string;
}

export function resolveTarget(flags: ConnectionFlags, env: Record<string, string | undefined>, cwd: string): Target {
  const { settings: file, path } = readSettings(env, cwd);
  const fromFlag = flags.url;
  const url = fromFlag ?? env.S3O_URL ?? file.url ?? 'http://127.0.0.1:8787';
  // Where the URL came from, for "cannot reach" messages.
  const source = fromFlag !== undefined ? '--url' : env.S3O_URL !== undefined ? 'S3O_URL' : file.url !== undefined ? (path ?? 'the CLI config file') : 'the default';
  const token = flags.token ?? env.S3O_ADMIN_TOKEN ?? file.token;
  const clientId = flags['access-client-id'] ?? env.CF_ACCESS_CLIENT_ID ?? file.access_client_id;
  const clientSecret = flags['access-client-secret'] ?? env.CF_ACCESS_CLIENT_SECRET ?? file.access_client_secret;
  const headers: Record<string, string> = {};
  // A service token: Cloudflare Access turns these into the JWT the Worker verifies.
  if (clientId && clientSecret) {
    headers['cf-access-client-id'] = clientId;
    headers['cf-access-client-secret'] = clientSecret;
  } else if (token) {
    headers.authorization = `Bearer ${token}`;
  }
  return { url: url.replace(/\/+$/, ''), headers, source };
}

function readSettings(env: Record<string, string | undefined>, cwd: string): { settings: FileSettings; path?: string } {
  const candidates = env.S3O_CLI_CONFIG
    ? [env.S3O_CLI_CONFIG]
    : [join(cwd, '.data', 'cli.json'), join(homedir(), '.config', 's3-orchestrator', 'cli.json')];
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    try {
      const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
      if (parsed && typeof parsed === 'object') return { settings: parsed as FileSettings, path };
    } catch {
      throw new Error(`${path} is not valid JSON`);
    }
  }
  return { settings: {} };
}
