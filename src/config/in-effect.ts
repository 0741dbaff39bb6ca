/**
 * The configuration in effect: the deployed document with the reloadable settings of the active KV version
 * applied. Deploy-only differences between the two wait for the next deploy.
 */
import { type ConfigChange, configChanges } from './reload-classes.ts';
import type { Config } from './types.ts';
import type { ConfigVersion } from './versions.ts';

export interface ConfigInEffect {
  /** The effective configuration. */
  config: Config;
  /** The document this deployment runs with. */
  deployed: Config;
  /** The KV version whose reloadable settings apply; undefined when only the deployed document applies. */
  version: ConfigVersion | undefined;
  /** That version's whole document. */
  pushed: Config | undefined;
}

/** Deploy-only differences between the deployed document and the active version. */
export function pendingDeploy(active: ConfigInEffect): ConfigChange[] {
  if (!active.pushed) return [];
  return configChanges(active.deployed, active.pushed).filter((c) => c.effect === 'deploy-only');
}
