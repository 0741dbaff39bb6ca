/**
 * `wrangler dev` without its DevTools inspector, for the benchmarks (worker-dev.ts starts it for `inspector: false`).
 *
 * The CLI always opens the inspector, and then every `console.log` of the Worker is serialized into a DevTools
 * message and relayed through a second workerd to wrangler's node, even when `--log-level warn` drops it there. A
 * deployed Worker has no inspector, so the benchmarks measure without it: wrangler's own API can switch it off.
 * Everything else is what the CLI sets up (the same config file, bundling, local bindings and persistence).
 *
 * Its one argument is the JSON of HeadlessWorkerOptions. It runs until SIGTERM or SIGINT.
 */
import { unstable_startWorker } from 'wrangler';

export interface HeadlessWorkerOptions {
  configPath: string;
  port: number;
  persistDir: string;
  vars: Record<string, string>;
  logLevel: 'info' | 'log' | 'warn';
}

const options = JSON.parse(process.argv[2] ?? '') as HeadlessWorkerOptions;
const worker = await unstable_startWorker({
  config: options.configPath,
  bindings: Object.fromEntries(Object.entries(options.vars).map(([name, value]) => [name, { type: 'plain_text', value }])),
  dev: {
    server: { hostname: '127.0.0.1', port: options.port },
    inspector: false,
    persist: options.persistDir,
    logLevel: options.logLevel,
    watch: false,
  },
});
await worker.ready;

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void worker.dispose().finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
