/**
 * The configuration in effect for this isolate, parsed and validated once per document, with what is derived
 * from it (credential index, backend clients). An invalid document is never used.
 */
import { type BackendClient, createBackendClient } from '../backends/client.ts';
import { formatProblems, loadConfig } from '../config/load.ts';
import type { Config } from '../config/types.ts';
import type { CredentialLookup } from '../s3/authenticate.ts';
import { credentialIndex } from '../s3/front-door.ts';

export interface ActiveConfig {
  config: Config;
  credentials: CredentialLookup;
  backends: Map<string, BackendClient>;
}

export type ActiveConfigResult = { ok: true; active: ActiveConfig } | { ok: false; error: string };

let cached: { text: string; result: ActiveConfigResult } | undefined;

export function activeConfig(text: string | undefined, vars: Readonly<Record<string, unknown>>): ActiveConfigResult {
  if (text === undefined || text.trim() === '') {
    return { ok: false, error: 'no configuration: set S3O_CONFIG to the YAML document' };
  }
  if (cached?.text === text) return cached.result;
  const loaded = loadConfig(text, vars);
  const result: ActiveConfigResult = loaded.ok
    ? {
        ok: true,
        active: {
          config: loaded.config,
          credentials: credentialIndex(loaded.config),
          backends: new Map(loaded.config.backends.map((b) => [b.name, createBackendClient(b)])),
        },
      }
    : { ok: false, error: `invalid configuration:\n${formatProblems(loaded.problems)}` };
  cached = { text, result };
  return result;
}
