/** The CLI as users run it: `npx s3-orchestrator config validate FILE`. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/command-line.ts';
import { optionsOf } from '../../src/cli/command-table.ts';
import { COMMANDS } from '../../src/cli/commands.ts';
import { optionLabel, synopsis } from '../../src/cli/help-text.ts';

const dir = mkdtempSync(join(tmpdir(), 's3o-cli-'));

function cli(...args: string[]) {
  const result = spawnSync(process.execPath, ['bin/s3-orchestrator.js', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe('s3-orchestrator config validate', () => {
  it('accepts the committed local config, naming variables it cannot see', () => {
    const result = cli('config', 'validate', 'config.local.yaml');
    expect(result.code).toBe(0);
    expect(result.out).toContain('${LOCAL_BACKEND_A} is not set');
    expect(result.out).toContain('config.local.yaml: valid');
  });

  it('reports every problem with its path and exits 1', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'routing_strategy: random\nbuckets: []\nbackends:\n  - name: a\n    endpoint: ftp://x\n');
    const result = cli('config', 'validate', file);
    expect(result.code).toBe(1);
    expect(result.err).toContain('routing_strategy: must be one of pack, spread, got "random"');
    expect(result.err).toContain('buckets: must have at least one entry');
    expect(result.err).toContain('backends[0].endpoint: must use http or https, got ftp:');
    expect(result.err).toContain('backends[0].bucket: is required');
  });

  it('uses --vars for ${VAR} and answers --json', () => {
    const vars = join(dir, 'vars.env');
    writeFileSync(vars, 'LOCAL_BACKEND_A=http://127.0.0.1:1\nLOCAL_BACKEND_B=http://127.0.0.1:2\nLOCAL_BACKEND_C=http://127.0.0.1:3\n');
    const result = cli('config', 'validate', 'config.local.yaml', '--vars', vars, '--json');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.out)).toEqual({ valid: true, problems: [], unset_variables: [] });
  });

  it('gives a readable error for a missing file and an unknown command', () => {
    const missing = cli('config', 'validate', join(dir, 'nope.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/cannot read .*nope\.yaml: ENOENT/);
    const unknown = cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "frobnicate"');
  });
});

describe('s3-orchestrator admin', () => {
  it('says clearly when the orchestrator cannot be reached, and refuses unknown admin commands', () => {
    const down = cli('admin', 'status', '--url', 'http://127.0.0.1:9');
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^s3-orchestrator: cannot reach http:\/\/127\.0\.0\.1:9 \(.*\); is the orchestrator running\?/);
    const unknown = cli('admin', 'frobnicate', '--url', 'http://127.0.0.1:9');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('unknown command "admin frobnicate"');
  });

  it('takes options before the command and as --name=value, refuses unknown ones, and names where the URL came from', () => {
    const before = cli('--url', 'http://127.0.0.1:9', 'admin', 'status');
    expect(before.code).toBe(1);
    expect(before.err).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9 .*\(URL from --url\)/);
    const equals = cli('admin', 'log-level', '--set=error', '--url=http://127.0.0.1:9');
    expect(equals.err).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9/);
    const fromEnv = spawnSync(process.execPath, ['bin/s3-orchestrator.js', 'admin', 'status'], { encoding: 'utf8', env: { PATH: process.env.PATH, S3O_URL: 'http://127.0.0.1:9', S3O_CLI_CONFIG: join(dir, 'none.json') } });
    expect(fromEnv.stderr).toContain('(URL from S3O_URL)');
    const bogus = cli('admin', 'status', '--frobnicate');
    expect(bogus.code).toBe(2);
    expect(bogus.err.trim()).toBe('s3-orchestrator: unknown option --frobnicate for "admin status" (see s3-orchestrator help admin status)');
    expect(cli('admin', 'status', '--url').code).toBe(2);
    for (const help of [cli('admin', '--help'), cli('config', '--help'), cli('--help')]) {
      expect(help.code).toBe(0);
      expect(help.out).toContain('usage: s3-orchestrator <command> [options]');
    }
  });

  it('answers errors as JSON with --json', () => {
    const down = cli('admin', 'status', '--json', '--url', 'http://127.0.0.1:9');
    expect(down.code).toBe(1);
    expect(JSON.parse(down.out)).toEqual({ error: expect.stringContaining('cannot reach http://127.0.0.1:9') });
    const bogus = cli('--json', 'admin', 'status', '--nope');
    expect(bogus.code).toBe(2);
    expect(JSON.parse(bogus.out)).toEqual({ error: 'unknown option --nope for "admin status" (see s3-orchestrator help admin status)' });
  });
});

/** What the parser makes of a command line: the command, its option values and operands, or the usage error. */
function parsed(...argv: string[]) {
  const line = parseCommandLine(argv, COMMANDS);
  if (line.kind === 'run') return { command: line.command.name, options: line.input.options, operands: line.input.operands };
  if (line.kind === 'help') return { help: line.command?.name ?? 'all', exitCode: line.exitCode };
  return { error: line.message };
}

describe('the command line, read against the command table', () => {
  // Every command line in the seed's operations page, docs/, README.md and the tests, with what the hand-written
  // parser made of it (options before or after the command, --name=value, the seed's -set and -key).
  const before: [string[], string, Record<string, string | boolean>, Record<string, string | undefined>][] = [
    [['admin', 'log-level', '-set', 'debug'], 'admin log-level', { set: 'debug' }, {}],
    [['admin', 'log-level', '--set', 'debug'], 'admin log-level', { set: 'debug' }, {}],
    [['admin', 'log-level', '--set=error', '--url=http://127.0.0.1:9'], 'admin log-level', { set: 'error', url: 'http://127.0.0.1:9' }, {}],
    [['admin', 'log-level', '-set=warn'], 'admin log-level', { set: 'warn' }, {}],
    [['admin', 'log-level', '--reset'], 'admin log-level', { reset: true }, {}],
    [['admin', 'log-level'], 'admin log-level', {}, {}],
    [['admin', 'object-locations', '-key', 'local-bucket/on-d.txt'], 'admin object-locations', { key: 'local-bucket/on-d.txt' }, {}],
    [['admin', 'object-locations', '-key', 'b/where/am-i.txt', '--json'], 'admin object-locations', { key: 'b/where/am-i.txt', json: true }, {}],
    [['admin', 'object-locations', '--key', 'b/k'], 'admin object-locations', { key: 'b/k' }, {}],
    [['admin', 'object-locations'], 'admin object-locations', {}, {}],
    [['admin', 'drain', 'b2-eu'], 'admin drain', {}, { BACKEND: 'b2-eu' }],
    [['admin', 'drain-status', 'b2-eu'], 'admin drain-status', {}, { BACKEND: 'b2-eu' }],
    [['admin', 'drain-status', 'b2-eu', '--watch'], 'admin drain-status', { watch: true }, { BACKEND: 'b2-eu' }],
    [['admin', 'drain-status', 'a', '--watch', '--stuck-after', '3'], 'admin drain-status', { watch: true, 'stuck-after': '3' }, { BACKEND: 'a' }],
    [['admin', 'drain-cancel', 'b2-eu'], 'admin drain-cancel', {}, { BACKEND: 'b2-eu' }],
    [['admin', 'remove-backend', 'b2-eu'], 'admin remove-backend', {}, { BACKEND: 'b2-eu' }],
    [['admin', 'remove-backend', 'b2-eu', '--purge'], 'admin remove-backend', { purge: true }, { BACKEND: 'b2-eu' }],
    [['admin', 'remove-backend', 'b2-eu', '--purge', '--confirm'], 'admin remove-backend', { purge: true, confirm: true }, { BACKEND: 'b2-eu' }],
    [['admin', 'remove-backend', 'b', '--purge', '--confirm', '--json'], 'admin remove-backend', { purge: true, confirm: true, json: true }, { BACKEND: 'b' }],
    [['admin', 'remove-backend', 'c', '--confirm'], 'admin remove-backend', { confirm: true }, { BACKEND: 'c' }],
    [['admin', 'status'], 'admin status', {}, {}],
    [['admin', 'status', '--json'], 'admin status', { json: true }, {}],
    [['--json', 'admin', 'status'], 'admin status', { json: true }, {}],
    [['admin', 'status', '--url', 'http://127.0.0.1:9'], 'admin status', { url: 'http://127.0.0.1:9' }, {}],
    [['--url', 'http://127.0.0.1:9', 'admin', 'status'], 'admin status', { url: 'http://127.0.0.1:9' }, {}],
    [['admin', 'status', '--token', 'not-the-admin-token'], 'admin status', { token: 'not-the-admin-token' }, {}],
    [['admin', 'status', '--access-client-id', 'id', '--access-client-secret', 's'], 'admin status', { 'access-client-id': 'id', 'access-client-secret': 's' }, {}],
    [['admin', 'cleanup-queue'], 'admin cleanup-queue', {}, {}],
    [['admin', 'replicate'], 'admin replicate', {}, {}],
    [['admin', 'over-replication'], 'admin over-replication', {}, {}],
    [['admin', 'over-replication', '--execute'], 'admin over-replication', { execute: true }, {}],
    [['admin', 'over-replication', '--execute', '--batch-size', '0'], 'admin over-replication', { execute: true, 'batch-size': '0' }, {}],
    [['config', 'validate', 'config.yaml'], 'config validate', {}, { FILE: 'config.yaml' }],
    [['config', 'validate', 'config.local.yaml', '--vars', 'vars.env', '--json'], 'config validate', { vars: 'vars.env', json: true }, { FILE: 'config.local.yaml' }],
    [['config', 'validate', '--', '-odd.yaml'], 'config validate', {}, { FILE: '-odd.yaml' }],
    [['config', 'diff', 'config.yaml'], 'config diff', {}, { FILE: 'config.yaml' }],
    [['config', 'push', 'config.yaml'], 'config push', {}, { FILE: 'config.yaml' }],
    [['config', 'push', 'config.yaml', '--note', 'rotate app1 key'], 'config push', { note: 'rotate app1 key' }, { FILE: 'config.yaml' }],
    [['config', 'show'], 'config show', {}, {}],
    [['config', 'show', '--json'], 'config show', { json: true }, {}],
    [['config', 'history'], 'config history', {}, {}],
    [['config', 'history', '--json'], 'config history', { json: true }, {}],
    [['config', 'rollback', '4'], 'config rollback', {}, { N: '4' }],
    [['config', 'rollback', 'latest'], 'config rollback', {}, { N: 'latest' }],
    [['help'], 'help', {}, { COMMAND: undefined }],
    [['help', 'admin', 'drain'], 'help', {}, { COMMAND: 'admin drain' }],
  ];
  it.each(before)('%j parses as before', (argv, command, options, operands) => {
    expect(parsed(...argv)).toEqual({ command, options, operands });
  });

  it('answers --help and -h anywhere, for one command when it names one, and usage with exit 2 for nothing', () => {
    expect(parsed('--help')).toEqual({ help: 'all', exitCode: 0 });
    expect(parsed('-h')).toEqual({ help: 'all', exitCode: 0 });
    expect(parsed('admin', '--help')).toEqual({ help: 'all', exitCode: 0 });
    expect(parsed('config', '-h')).toEqual({ help: 'all', exitCode: 0 });
    expect(parsed('admin', 'drain-status', '--help')).toEqual({ help: 'admin drain-status', exitCode: 0 });
    expect(parsed()).toEqual({ help: 'all', exitCode: 2 });
  });

  it('refuses what a command does not take, naming the option (as typed) and the command', () => {
    const unknown = (typed: string, command: string) => ({ error: `unknown option ${typed} for "${command}" (see s3-orchestrator help ${command})` });
    expect(parsed('admin', 'status', '--frobnicate')).toEqual(unknown('--frobnicate', 'admin status'));
    expect(parsed('--frobnicate', 'admin', 'status')).toEqual(unknown('--frobnicate', 'admin status'));
    expect(parsed('admin', 'status', '-frob')).toEqual(unknown('-frob', 'admin status'));
    // Options of another command, which the old parser accepted everywhere and ignored.
    expect(parsed('admin', 'drain', 'a', '--watch')).toEqual(unknown('--watch', 'admin drain'));
    expect(parsed('admin', 'log-level', '-key', 'b/k')).toEqual(unknown('-key', 'admin log-level'));
    expect(parsed('admin', 'status', '--note', 'x')).toEqual(unknown('--note', 'admin status'));
    expect(parsed('config', 'validate', 'config.yaml', '--url', 'http://x')).toEqual(unknown('--url', 'config validate'));
  });

  it('refuses a missing or unwanted value, a repeated value, a missing operand and a stray one', () => {
    expect(parsed('admin', 'status', '--url')).toEqual({ error: 'option --url needs a value' });
    expect(parsed('admin', 'log-level', '-set')).toEqual({ error: 'option -set needs a value' });
    expect(parsed('admin', 'object-locations', '--key')).toEqual({ error: 'option --key needs a value' });
    expect(parsed('admin', 'over-replication', '--execute', '--batch-size', '-1')).toEqual({
      error: 'option --batch-size needs a value (for a value that starts with a dash, write --batch-size=-1)',
    });
    expect(parsed('admin', 'over-replication', '--batch-size=-1')).toMatchObject({ options: { 'batch-size': '-1' } });
    expect(parsed('admin', 'status', '--json=yes')).toEqual({ error: 'option --json takes no value' });
    expect(parsed('admin', 'status', '--url', 'a', '--url', 'b')).toEqual({ error: 'option --url is given twice' });
    expect(parsed('admin', 'drain')).toEqual({ error: "admin drain needs BACKEND (the backend's name)" });
    expect(parsed('config', 'validate')).toEqual({ error: 'config validate needs FILE (a configuration file)' });
    expect(parsed('admin', 'status', 'extra')).toEqual({ error: 'unexpected argument "extra" for "admin status" (it takes no arguments)' });
    expect(parsed('admin', 'drain', 'a', 'b')).toEqual({ error: 'unexpected argument "b" for "admin drain" (it takes BACKEND)' });
    expect(parsed('admin', 'frobnicate')).toMatchObject({ error: expect.stringMatching(/^unknown command "admin frobnicate" \(available: admin status, /) });
  });

  it('gives each option name one type across the table (the first pass relies on it)', () => {
    const types = new Map<string, string>();
    for (const command of COMMANDS) {
      for (const [name, spec] of Object.entries(optionsOf(command))) {
        expect(types.get(name) ?? spec.type, `--${name}`).toBe(spec.type);
        types.set(name, spec.type);
      }
    }
  });
});

describe('s3-orchestrator help and unknown options, from the real binary', () => {
  it('lists every command and every option of the table', () => {
    for (const help of [cli('help'), cli('--help'), cli('-h')]) {
      expect(help.code).toBe(0);
      for (const command of COMMANDS) {
        expect(help.out).toContain(`\n  ${synopsis(command)} `);
        for (const [name, spec] of Object.entries(optionsOf(command))) expect(help.out).toContain(optionLabel(name, spec));
      }
    }
    const one = cli('admin', 'log-level', '--help');
    expect(one.code).toBe(0);
    expect(one.out).toContain('usage: s3-orchestrator admin log-level [options]');
    expect(one.out).toContain('--set LEVEL, -set');
    expect(one.out).not.toContain('admin drain');
    expect(cli('help', 'admin', 'log-level').out).toBe(one.out);
    expect(cli('help', 'nope').code).toBe(2);
  });

  it('refuses an unknown option with exit 2 and one line naming it and the command, before reaching anything', () => {
    const unknown = cli('admin', 'drain', 'a', '--wacth', '--url', 'http://127.0.0.1:9');
    expect(unknown.code).toBe(2);
    expect(unknown.out).toBe('');
    expect(unknown.err).toBe('s3-orchestrator: unknown option --wacth for "admin drain" (see s3-orchestrator help admin drain)\n');
    const elsewhere = cli('config', 'validate', 'config.local.yaml', '--purge');
    expect(elsewhere.code).toBe(2);
    expect(elsewhere.err).toContain('unknown option --purge for "config validate"');
    const asJson = cli('config', 'validate', 'config.local.yaml', '-vars', 'x', '--json');
    expect(asJson.code).toBe(2);
    expect(JSON.parse(asJson.out)).toEqual({ error: 'unknown option -vars for "config validate" (see s3-orchestrator help config validate)' });
    const missing = cli('config', 'push', 'config.local.yaml', '--note');
    expect(missing.code).toBe(2);
    expect(missing.err).toBe('s3-orchestrator: option --note needs a value\n');
  });
});
