/** The CLI as users run it: `npx s3-orchestrator config validate FILE`. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

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
    expect(bogus.err.trim()).toBe('s3-orchestrator: unknown option --frobnicate (see s3-orchestrator help)');
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
    expect(JSON.parse(bogus.out)).toEqual({ error: 'unknown option --nope (see s3-orchestrator help)' });
  });
});
