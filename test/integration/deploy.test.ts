/** The production bundle builds, and an invalid configuration stops a deploy before wrangler runs. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 's3o-deploy-'));

function deploy(configFile: string) {
  const result = spawnSync(process.execPath, ['scripts/deploy.ts', '--dry-run'], {
    encoding: 'utf8',
    env: { ...process.env, S3O_CONFIG_FILE: configFile, WRANGLER_SEND_METRICS: 'false' },
  });
  return { code: result.status, output: result.stdout + result.stderr };
}

/** A valid document (with `extra` YAML in front) written to a file of the test's folder. */
function configFile(name: string, extra = ''): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    `${extra}buckets:\n  - name: photos\n    credentials: [{ access_key_id: writer, secret_access_key: "\${WRITER_SECRET}" }]\n` +
      'backends:\n  - { name: b2, endpoint: "https://s3.example.com", bucket: real, access_key_id: k, secret_access_key: "${B2_SECRET}" }\n',
  );
  return file;
}

describe('npm run deploy', () => {
  it('bundles the production Worker with the validated configuration (dry run)', () => {
    const result = deploy(configFile('config.yaml'));
    expect(result.output).toContain('WRITER_SECRET');
    expect(result.output).toMatch(/--dry-run: exiting now/);
    // The real deploy publishes the document to CONFIG_KV first (the same step `npm run dev` runs locally).
    expect(result.output).toContain('would make this document the active configuration version in CONFIG_KV');
    expect(result.code).toBe(0);
  });

  it('refuses a configuration with the development admin token', () => {
    const result = deploy(configFile('token.yaml', 'admin: { token: "${DEV_ADMIN_TOKEN}" }\n'));
    expect(result.code).toBe(1);
    expect(result.output).toContain('sets admin.token, a development-only door; nothing was deployed');
    expect(result.output).not.toMatch(/--dry-run: exiting now/);
  });

  it('refuses an invalid configuration with its problems', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'routing_strategy: nope\nbuckets: []\nbackends: []\n');
    const result = deploy(file);
    expect(result.code).toBe(1);
    expect(result.output).toContain('is invalid; nothing was deployed');
    expect(result.output).toContain('routing_strategy: must be one of pack, spread');
  });
});
