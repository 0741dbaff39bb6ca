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
});
