/**
 * Which Worker vars and secrets a configuration document may expand as `${NAME}`: only those meant for it, so
 * that a pushed document cannot read the orchestrator's own secrets (`region: ${DATABASE_URL}`) and have them
 * echoed back. A name is a configuration variable when the deployed document (S3O_CONFIG, chosen by whoever
 * deploys) references it, or when the deploy-time var S3O_CONFIG_VARS lists it; never when the orchestrator
 * itself reads it (DATABASE_URL, DATABASE_LOCAL_PROXY, S3O_*). See docs/configuration.md.
 */
import { referencedVariables } from './expand.ts';

const RESERVED = /^(?:S3O_.*|DATABASE_URL|DATABASE_LOCAL_PROXY)$/;

function isReservedVariable(name: string): boolean {
  return RESERVED.test(name);
}

/**
 * The variables configuration documents may expand, with their values (string vars and secrets only). The Worker's
 * env comes as its entries (`Object.entries(env)`): its names are the user's own, which no type can list.
 */
export function configVariables(envEntries: Iterable<readonly [string, unknown]>, deployedText: string | undefined): Record<string, string> {
  const env = new Map(envEntries);
  const listedText = env.get('S3O_CONFIG_VARS');
  const listed = typeof listedText === 'string' ? listedText.split(/[\s,]+/).filter(Boolean) : [];
  const names = new Set([...referencedVariables(deployedText ?? ''), ...listed]);
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = env.get(name);
    if (!isReservedVariable(name) && typeof value === 'string') out[name] = value;
  }
  return out;
}
