/**
 * The command table: every command the CLI has, its operands and options with their descriptions, and what runs
 * it. main.ts dispatches from it, command-line.ts parses against it and help-text.ts prints it; there is no other
 * list of commands or flags.
 */
import { cleanupQueue, logLevel, objectLocations, overReplication, removeBackend, replicate, status } from './admin.ts';
import { drainStatus, startOrCancelDrain } from './admin-drain.ts';
import { adminEvents } from './admin-events.ts';
import { DEFAULT_TRACE_DURATION, DEFAULT_TRACE_SAMPLE, adminTrace } from './admin-trace.ts';
import { encryptionStatus, runBulkJob } from './admin-encryption.ts';
import { rebalance } from './admin-rebalance.ts';
import { sync } from './admin-sync.ts';
import { backfillChecksums, scrub } from './admin-integrity.ts';
import { cachePurge, cacheStats } from './admin-cache.ts';
import {
  type Command,
  EVERY_COMMAND_OPTIONS,
  type Operand,
  type OperandValues,
  type OptionTable,
  type OptionValues,
  REMOTE_OPTIONS,
} from './command-table.ts';
import { diff, history, push, rollback, show, validate } from './config.ts';
import { commandHelp, fullHelp } from './help-text.ts';
import { fail } from './output.ts';
import { type Target, resolveTarget } from './target.ts';

type NoOptions = Record<never, never>;
type NoOperands = readonly [];

interface Entry<O extends OptionTable, P extends readonly Operand[]> {
  name: string;
  summary: string;
  operands?: P;
  options?: O;
}

/** A command's input typed by its own entry. */
interface TypedInput<O extends OptionTable, P extends readonly Operand[]> {
  options: OptionValues<O> & OptionValues<typeof EVERY_COMMAND_OPTIONS>;
  operands: OperandValues<P>;
  json: boolean;
}

/** A command that runs here (reads files, prints help) and takes no connection options. */
function local<const O extends OptionTable = NoOptions, const P extends readonly Operand[] = NoOperands>(
  entry: Entry<O, P> & { run: (input: TypedInput<O, P>) => number | Promise<number> },
): Command {
  // The parser gave exactly the entry's options and operands, so the typed view is what arrived.
  return command(entry, false, async (input) => entry.run(input as TypedInput<O, P>));
}

/** A command that calls the orchestrator: it takes the connection options and gets the Target they resolve to. */
function remote<const O extends OptionTable = NoOptions, const P extends readonly Operand[] = NoOperands>(
  entry: Entry<O, P> & { run: (target: Target, input: TypedInput<O, P>) => Promise<number> },
): Command {
  return command(entry, true, async (input) => {
    let target: Target;
    try {
      target = resolveTarget(input.options as OptionValues<typeof REMOTE_OPTIONS>, process.env, process.cwd());
    } catch (err) {
      // An unreadable CLI config file.
      return fail(err instanceof Error ? err.message : String(err));
    }
    return entry.run(target, input as TypedInput<O, P>);
  });
}

function command<O extends OptionTable, P extends readonly Operand[]>(entry: Entry<O, P>, remote: boolean, execute: Command['execute']): Command {
  return { name: entry.name, summary: entry.summary, operands: entry.operands ?? [], options: entry.options ?? {}, remote, execute };
}

/** A remote command with no operands or options of its own: it reports, as text or with --json. */
function report(name: string, summary: string, run: (target: Target, json: boolean) => Promise<number>): Command {
  return remote({ name, summary, run: (target, { json }) => run(target, json) });
}

const WAIT = { type: 'boolean', description: 'follow the job with a progress bar until it is complete (exit 1 if copies failed)' } as const;

const FILE = { name: 'FILE', description: 'a configuration file' } as const;
const BACKEND = { name: 'BACKEND', description: "the backend's name" } as const;

export const COMMANDS: readonly Command[] = [
  local({
    name: 'config validate',
    operands: [FILE],
    summary: 'check a configuration file here; prints every problem with its path',
    options: {
      vars: {
        type: 'string',
        value: 'FILE',
        description: 'a dotenv-style file of VAR=value used for ${VAR} expansion; without it, ${VAR} is taken from the environment',
      },
    },
    run: ({ operands, options, json }) => validate(operands.FILE, options.vars, json),
  }),
  remote({
    name: 'config push',
    operands: [FILE],
    summary: 'validate FILE, store it as the next version and activate it; reloadable settings apply fleet-wide within seconds, deploy-only ones are listed',
    options: { note: { type: 'string', value: 'TEXT', description: 'a note kept with the version (config history shows it)' } },
    run: (target, { operands, options, json }) => push(target, operands.FILE, options.note, json),
  }),
  report('config show', 'the active version, secrets masked, and what waits for a deploy', show),
  remote({
    name: 'config diff',
    operands: [FILE],
    summary: 'what pushing FILE would change, each field marked reloads / requires deploy',
    run: (target, { operands, json }) => diff(target, operands.FILE, json),
  }),
  report('config history', 'every version, newest first', history),
  remote({
    name: 'config rollback',
    operands: [{ name: 'N', description: 'a version number; see config history' }],
    summary: "activate version N's document again (as a new version)",
    run: (target, { operands, json }) => rollback(target, operands.N, json),
  }),
  report('admin status', 'per backend: bytes used and limit, orphaned bytes, objects, state', status),
  remote({
    name: 'admin object-locations',
    summary: 'an object\'s record and the backends holding its copies (needs --key)',
    // The seed spells it `-key bucket/key`.
    options: { key: { type: 'string', value: 'BUCKET/KEY', aliases: ['-key'], description: 'the object' } },
    run: (target, { options, json }) => objectLocations(target, options.key, json),
  }),
  remote({
    name: 'admin log-level',
    summary: 'the log level in effect',
    options: {
      // The seed spells it `-set debug`.
      set: { type: 'string', value: 'LEVEL', aliases: ['-set'], description: 'change it fleet-wide (debug, info, warn, error)' },
      reset: { type: 'boolean', description: "return to the configuration's level" },
    },
    run: (target, { options, json }) => logLevel(target, options.set, options.reset ?? false, json),
  }),
  remote({
    name: 'admin drain',
    operands: [BACKEND],
    summary: 'stop placing copies on BACKEND and move its copies to the others (asking again while it drains retries at once)',
    run: (target, { operands, json }) => startOrCancelDrain(target, operands.BACKEND, false, json),
  }),
  remote({
    name: 'admin drain-status',
    operands: [BACKEND],
    summary: 'what is left and what has moved',
    options: {
      watch: { type: 'boolean', description: 'follow it with a progress bar until it ends (exit 0 drained, 1 cancelled, 3 stuck)' },
      'stuck-after': {
        type: 'string',
        value: 'SECONDS',
        description: 'with --watch: stop watching (exit 3) after this long without progress; default 600',
      },
    },
    run: (target, { operands, options, json }) => drainStatus(target, operands.BACKEND, options.watch ?? false, options['stuck-after'], json),
  }),
  remote({
    name: 'admin drain-cancel',
    operands: [BACKEND],
    summary: 'stop the drain (moved copies stay moved), or take a drained backend back',
    run: (target, { operands, json }) => startOrCancelDrain(target, operands.BACKEND, true, json),
  }),
  remote({
    name: 'admin events',
    summary: 'the last admin actions across the fleet (time, who, what, parameters, result), oldest first',
    options: {
      follow: { type: 'boolean', description: 'keep printing new ones as they happen (polls every 2 s) until interrupted' },
      limit: { type: 'string', value: 'N', description: 'how many of the newest to show first (1-1000, default 100)' },
    },
    run: (target, { options, json }) => adminEvents(target, { follow: options.follow ?? false, limit: options.limit, json }),
  }),
  remote({
    name: 'admin trace',
    summary: 'sample S3 requests fleet-wide for a while, then print p50/p95/p99 per operation and phase (auth, metadata, placement, backend, commit, ...) and the slowest requests',
    options: {
      duration: { type: 'string', value: 'DURATION', description: `how long to sample, 1s to 10m (default ${DEFAULT_TRACE_DURATION})` },
      sample: { type: 'string', value: 'SHARE', description: `the share of requests sampled, above 0 and at most 1 (default ${DEFAULT_TRACE_SAMPLE})` },
    },
    run: (target, { options, json }) => adminTrace(target, { duration: options.duration, sample: options.sample, json }),
  }),
  report('admin cleanup-queue', 'deletes that failed and wait for a retry (stuck ones after 10 attempts first)', cleanupQueue),
  report('admin replicate', 'run a replication cycle now', replicate),
  remote({
    name: 'admin over-replication',
    summary: 'how many objects have more copies than the factor',
    options: {
      execute: { type: 'boolean', description: 'remove the extra copies' },
      'batch-size': { type: 'string', value: 'N', description: 'with --execute: objects handled in this run (1-10000, default 1000)' },
    },
    run: (target, { options, json }) => overReplication(target, options.execute ?? false, options['batch-size'], json),
  }),
  remote({
    name: 'admin rebalance',
    summary: 'the moves a rebalance pass would make now (per backend: copies and bytes out and in, utilization now and after), or with --execute one pass now',
    options: {
      'dry-run': { type: 'boolean', description: 'only show the plan (the default)' },
      execute: { type: 'boolean', description: 'carry out one pass now (up to rebalance.batch_size copies), whatever rebalance.enabled says' },
    },
    run: (target, { options, json }) => rebalance(target, { dryRun: options['dry-run'] ?? false, execute: options.execute ?? false, json }),
  }),
  remote({
    name: 'admin sync',
    summary: 'record the objects a backend holds that the database does not (e.g. after restoring a database backup); needs --backend and --bucket',
    options: {
      backend: { type: 'string', value: 'BACKEND', description: 'the backend whose bucket is listed' },
      bucket: { type: 'string', value: 'BUCKET', description: 'the virtual bucket the objects belong to' },
      prefix: { type: 'string', value: 'PREFIX', description: 'only keys starting with this (client keys; with --adopt-foreign, object names on the backend)' },
      'dry-run': { type: 'boolean', description: 'count what would be imported, change nothing' },
      'adopt-foreign': { type: 'boolean', description: "also adopt objects something else wrote into the backend's bucket, as keys of BUCKET under their own names" },
      'min-age': { type: 'string', value: 'DURATION', description: 'leave objects younger than this alone (default 15m: a write in flight has bytes before its record); 0 when nothing writes' },
    },
    run: (target, { options, json }) =>
      sync(target, {
        backend: options.backend,
        bucket: options.bucket,
        prefix: options.prefix,
        dryRun: options['dry-run'] ?? false,
        adoptForeign: options['adopt-foreign'] ?? false,
        minAge: options['min-age'],
        json,
      }),
  }),
  remote({
    name: 'admin remove-backend',
    operands: [BACKEND],
    summary: "drop BACKEND's records (its objects stay on its storage)",
    options: {
      purge: { type: 'boolean', description: 'preview deleting its objects from its storage too' },
      confirm: { type: 'boolean', description: 'with --purge: do it (with a confirmation token valid 60 s)' },
    },
    run: (target, { operands, options, json }) => removeBackend(target, operands.BACKEND, options.purge ?? false, options.confirm ?? false, json),
  }),
  remote({
    name: 'admin encrypt-existing',
    summary: 'seal every plaintext copy (a job on the Worker\'s queue; needs encryption enabled): starts it, or reports the one running',
    options: { wait: WAIT },
    run: (target, { options, json }) => runBulkJob(target, 'encrypt-existing', { wait: options.wait ?? false, json }),
  }),
  remote({
    name: 'admin decrypt-existing',
    summary: 'store every sealed copy as plaintext again (keys stay configured until it is complete)',
    options: { wait: WAIT },
    run: (target, { options, json }) => runBulkJob(target, 'decrypt-existing', { wait: options.wait ?? false, json }),
  }),
  remote({
    name: 'admin rotate-encryption-key',
    summary: 're-wrap data keys under the primary key, without touching object data',
    options: {
      // The seed spells it `--old-key-id config-0`.
      'old-key-id': {
        type: 'string',
        value: 'ID',
        aliases: ['-old-key-id'],
        description: 'only the data keys this key wraps: its id (k-..., vault:...) or config-N (config-0 the primary, config-1 previous_keys[0], ...); without it, every one not wrapped by the primary',
      },
      wait: WAIT,
    },
    run: (target, { options, json }) => runBulkJob(target, 'rotate-encryption-key', { oldKeyId: options['old-key-id'], wait: options.wait ?? false, json }),
  }),
  report('admin encryption', 'the configured keys, the copies each wraps, plaintext copies and running jobs', encryptionStatus),
  remote({
    name: 'admin scrub',
    summary: 'read copies in full now and compare them with their content digest; drop those that do not match (never an object\'s last); exit 1 if any did not',
    options: { 'batch-size': { type: 'string', value: 'N', description: 'copies read in this pass (1-10000, default integrity.scrub_batch_size)' } },
    run: (target, { options, json }) => scrub(target, options['batch-size'], json),
  }),
  remote({
    name: 'admin backfill-checksums',
    summary: 'record the content digest of every object that has none yet (older objects), page by page with progress on stderr',
    options: { 'batch-size': { type: 'string', value: 'N', description: 'objects per page (1-10000, default 100)' } },
    run: (target, { options, json }) => backfillChecksums(target, options['batch-size'], json),
  }),
  report('admin cache stats', 'the edge cache: on or off, its limits, hits, misses and evictions fleet-wide, and the last purges', cacheStats),
  remote({
    name: 'admin cache purge',
    summary: 'make every data center stop serving the cached entries of the objects covered (every bucket without --bucket, every key without --prefix)',
    options: {
      bucket: { type: 'string', value: 'B', description: 'only this bucket' },
      prefix: { type: 'string', value: 'P', description: 'only keys that start with P' },
    },
    run: (target, { options, json }) => cachePurge(target, options.bucket, options.prefix, json),
  }),
  local({
    name: 'help',
    operands: [{ name: 'COMMAND', description: 'a command', optional: true, rest: true }],
    summary: 'this text, or with a command only that command\'s',
    run: ({ operands }) => {
      if (operands.COMMAND === undefined) console.log(fullHelp(COMMANDS));
      else {
        const command = COMMANDS.find((c) => c.name === operands.COMMAND);
        if (!command) return fail(`no command "${operands.COMMAND}" (see s3-orchestrator help)`, 2);
        console.log(commandHelp(command));
      }
      return 0;
    },
  }),
];
