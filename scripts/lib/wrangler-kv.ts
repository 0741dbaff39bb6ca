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
  const kv = (args: string[]) => {
    const call = () => run([...args, '--binding', 'CONFIG_KV', ...where]);
    return location.kind === 'local' ? withRetries(call) : call();
  };
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

/**
 * Each local call starts its own workerd over the persist folder. On a loaded machine that start has failed now
 * and then (once in about 1,900 calls, in a CI run), and every operation here is idempotent (a get, a list, a put
 * of the same value under the same key), so a failed local call is tried again before it counts. Remote calls are
 * not: wrangler retries the API itself, and a second failure there is the operator's to see.
 */
async function withRetries(call: () => Promise<string>, attempts = 3): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= attempts) throw error;
    }
  }
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
      else reject(new Error(`wrangler ${args.slice(0, 3).join(' ')} failed (exit ${code}): ${lastLines(`${out}\n${err}`)}`));
    });
  });
}

/** The end of wrangler's output, without its blank lines: its error box ends in blank lines and a log path. */
function lastLines(text: string): string {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .slice(-12)
    .join(' | ');
}
