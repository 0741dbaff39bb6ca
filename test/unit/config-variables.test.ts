/** Which variables a configuration may expand, and that no message built from it echoes their values. */
import { describe, expect, it } from 'vitest';
import { configVariables } from '../../src/config/config-variables.ts';
import { redactExpanded } from '../../src/config/expand.ts';
import { formatProblems, loadConfig } from '../../src/config/load.ts';

const ENV = {
  DATABASE_URL: 'postgres://user:db-password@db.example.com/s3o',
  DATABASE_LOCAL_PROXY: '127.0.0.1:5999',
  S3O_CONFIG: 'backends:\n  - secret_access_key: ${B2_SECRET}\n    access_key_id: ${B2_KEY}\n# $${LITERAL}\n',
  S3O_ENVIRONMENT: 'development',
  S3O_CONFIG_VARS: 'EXTRA_TOKEN, REGION_NAME DATABASE_URL',
  B2_SECRET: 'b2-secret-value-123456',
  B2_KEY: 'b2-key-id',
  EXTRA_TOKEN: 'extra-token-value-0000',
  REGION_NAME: 'eu-central-003',
  UNRELATED_SECRET: 'never-for-the-config',
  LITERAL: 'not referenced',
  CONFIG_KV: { binding: true },
};

describe('configVariables', () => {
  it('are the names the deployed document references plus those S3O_CONFIG_VARS lists, never the orchestrator\'s own', () => {
    expect(configVariables(Object.entries(ENV), ENV.S3O_CONFIG)).toEqual({
      B2_SECRET: ENV.B2_SECRET,
      B2_KEY: ENV.B2_KEY,
      EXTRA_TOKEN: ENV.EXTRA_TOKEN,
      REGION_NAME: ENV.REGION_NAME,
    });
    expect(configVariables(Object.entries({ ...ENV, S3O_CONFIG_VARS: undefined }), '${DATABASE_URL} ${S3O_ENVIRONMENT} ${CONFIG_KV}')).toEqual({});
  });
});

describe('messages never echo an expanded value', () => {
  const vars = { LONG_SECRET: 'x'.repeat(30) + '"quoted\\value"-' + 'y'.repeat(30), REGION: 'eu-central-003', SHORT: 'ab' };

  it('validation problems quote the ${NAME}, not the value, whole or cut short', () => {
    const result = loadConfig(
      [
        'routing_strategy: ${LONG_SECRET}',
        'server: { log_level: "${REGION}" }',
        'buckets: [{ name: b1, credentials: [{ access_key_id: k1, secret_access_key: "${SHORT}" }] }]',
        'backends: [{ name: x, endpoint: "${LONG_SECRET}", bucket: b, access_key_id: k, secret_access_key: s1234567 }]',
      ].join('\n'),
      vars,
    );
    expect(result.ok).toBe(false);
    const text = result.ok ? '' : formatProblems(result.problems);
    expect(text).toContain('routing_strategy: must be one of pack, spread, got "${LONG_SECRET}');
    expect(text).toContain('got "${REGION}"');
    expect(text).not.toContain('xxxxxxxx');
    expect(text).not.toContain('eu-central');
  });

  it('redaction replaces longer values first and leaves short ones alone', () => {
    expect(redactExpanded('a=secret-long b=secret', [['A', 'secret-long'], ['B', 'secret'], ['C', 'b=']])).toBe('a=${A} b=${B}');
  });
});
