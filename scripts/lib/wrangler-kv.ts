/**
 * The config KV namespace from outside the Worker, through `wrangler kv`: the production namespace for
 * `npm run deploy`, the local one (in a persist folder) for `npm run dev` and its tests. Each call starts wrangler,
 * so this is for a handful of operations at deploy time, not for loops.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConfigStore } from '../../src/config/config-store.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WRANGLER = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
/** What `wrangler kv key get` prints, on stdout with status 0, for a missing key. */
const NOT_FOUND = 'Value not found';

export type KvLocation = { kind: 'local'; persistDir: string } | { kind: 'production' };

export function wranglerConfigStore(location: KvLocation): ConfigStore {
  const where = location.kind === 'local' ? ['--local', '--persist-to', location.persistDir] : ['--env', 'production', '--remote'];
  const kv = (args: string[]) => run([...args, '--binding', 'CONFIG_KV', ...where]);
  return {
    async get(key) {
      const out = await kv(['kv', 'key', 'get', key]);
      return out.trim() === NOT_FOUND ? null : out;
    },
    async put(key, value, metadata) {
      // Through a file: a configuration document can be longer than a command line should be.
      const dir = mkdtempSync(join(tmpdir(), 's3o-kv-'));
      try {
        const file = join(dir, 'value');
        writeFileSync(file, value);
        await kv(['kv', 'key', 'put', key, '--path', file, ...(metadata ? ['--metadata', JSON.stringify(metadata)] : [])]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    async list(prefix) {
      // wrangler follows KV's cursors itself and prints every key.
      const out = await kv(['kv', 'key', 'list', '--prefix', prefix]);
      return { keys: JSON.parse(out) as { name: string; metadata?: unknown }[] };
    },
  };
}

function run(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], {
      cwd: ROOT,
      env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`wrangler ${args.slice(0, 3).join(' ')} failed (exit ${code}): ${lastLines(err || out)}`));
    });
  });
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ');
}
