/**
 * The configuration in effect for this isolate: the deployed document (S3O_CONFIG) with the reloadable settings
 * of the active KV version applied, plus what is derived from it (credential index, backend clients). The KV
 * record is re-read at most every KV_REFRESH_MS; a new version is adopted whole or not at all, and an invalid one
 * never replaces a valid one.
 */
import { type BackendClient, createBackendClient } from '../backends/client.ts';
import { deploymentTag } from '../config/deployment-tag.ts';
import { formatProblems, loadConfig, type LoadResult } from '../config/load.ts';
import { applyReloadable, type ConfigChange, configChanges } from '../config/reload-classes.ts';
import { type ConfigInEffect, pendingDeploy } from '../config/in-effect.ts';
import type { Config, LogLevel } from '../config/types.ts';
import { type ConfigVersion, listVersions, parseVersionRecord, readVersion } from '../config/versions.ts';
import { createLogger, errorFields, type Logger } from '../observe/log.ts';
import type { CredentialLookup } from '../s3/authenticate.ts';
import { credentialIndex } from '../s3/front-door.ts';
import type { Bindings } from './bindings.ts';
import { thisIsolate } from './isolate.ts';

/** The configuration in effect, with what is derived from it once per version. */
export interface ActiveConfig extends ConfigInEffect {
  credentials: CredentialLookup;
  backends: Map<string, BackendClient>;
}

export type ActiveConfigResult = { ok: true; active: ActiveConfig } | { ok: false; error: string };

/** How many recent versions a fresh isolate tries when the active record is unusable. */
const FALLBACK_DEPTH = 5;


export async function resolveActiveConfig(bindings: Bindings, logLevel?: LogLevel): Promise<ActiveConfigResult> {
  const text = bindings.configText;
  if (text === undefined || text.trim() === '') {
    return { ok: false, error: 'no configuration: set S3O_CONFIG to the YAML document' };
  }
  const deployed = loadDeployed(bindings, text);
  if (!deployed.ok) return { ok: false, error: `invalid configuration:\n${formatProblems(deployed.problems)}` };

  const memo = thisIsolate().config;
  const raw = bindings.configStore ? await memo.activeRecord.read(bindings.configStore, Date.now()) : null;
  const current = memo.current;
  if (current?.deployedText === text && current.raw === raw) return { ok: true, active: current.active };
  const previous = current?.deployedText === text ? current.active : undefined;
  const active = await adopt(raw, deployed.config, previous, bindings, logLevel);
  memo.current = { deployedText: text, raw, active };
  return { ok: true, active };
}

function loadDeployed(bindings: Bindings, text: string): LoadResult {
  const memo = thisIsolate().config;
  if (memo.deployed?.text !== text) memo.deployed = { text, result: loadConfig(text, bindings.vars), tag: deploymentTag(text) };
  return memo.deployed.result;
}

/** Changes with every deployment (a digest of the deployed document). */
export function deploymentOf(bindings: Bindings): string {
  const text = bindings.configText ?? '';
  loadDeployed(bindings, text);
  return thisIsolate().config.deployed?.tag ?? deploymentTag(text);
}

/**
 * `server.base_domains` as deployed (deploy-only, so no KV read is needed): what the entry decides S3 or not by.
 * None when the document is missing or invalid; the S3 surface then says the configuration is unusable.
 */
export function deployedBaseDomains(bindings: Bindings): readonly string[] {
  const text = bindings.configText;
  if (text === undefined || text.trim() === '') return [];
  const deployed = loadDeployed(bindings, text);
  return deployed.ok ? deployed.config.server.baseDomains : [];
}

/** This isolate's own push or rollback: followed at once rather than after the refresh bound. */
export function rememberActiveRecord(text: string): void {
  thisIsolate().config.activeRecord.remember(text, Date.now());
}

export function buildActiveConfig(deployed: Config, version: { record: ConfigVersion; config: Config } | undefined): ActiveConfig {
  const config = version ? applyReloadable(deployed, version.config) : deployed;
  return {
    config,
    credentials: credentialIndex(config),
    backends: new Map(config.backends.map((b) => [b.name, createBackendClient(b, config.server.backendTimeoutMs)])),
    deployed,
    version: version?.record,
    pushed: version?.config,
  };
}

async function adopt(
  raw: string | null,
  deployed: Config,
  previous: ActiveConfig | undefined,
  bindings: Bindings,
  logLevel: LogLevel | undefined,
): Promise<ActiveConfig> {
  const log = (config: Config) => createLogger(logLevel ?? config.server.logLevel, { component: 'config' });
  if (raw === null) return buildActiveConfig(deployed, undefined);
  let record: ConfigVersion | undefined;
  try {
    record = parseVersionRecord(raw);
    const loaded = loadConfig(record.yaml, bindings.vars);
    if (!loaded.ok) throw new Error(`invalid config (version ${record.version}):\n${formatProblems(loaded.problems)}`);
    const active = buildActiveConfig(deployed, { record, config: loaded.config });
    logAdoption(log(active.config), previous, active);
    return active;
  } catch (err) {
    const fallback = previous ?? (await newestValidVersion(bindings, deployed, record?.version));
    log(fallback.config).error('Config reload failed, keeping current config', {
      ...errorFields(err),
      ...(record ? { version: record.version } : {}),
      kept_version: fallback.version?.version ?? 'deployed',
    });
    return fallback;
  }
}

/** For an isolate with nothing to keep: the newest stored version that is valid, else the deployed document. */
async function newestValidVersion(bindings: Bindings, deployed: Config, rejected: number | undefined): Promise<ActiveConfig> {
  const store = bindings.configStore;
  if (!store) return buildActiveConfig(deployed, undefined);
  try {
    const candidates = (await listVersions(store)).filter((v) => v.version !== rejected).slice(0, FALLBACK_DEPTH);
    for (const candidate of candidates) {
      const record = await readVersion(store, candidate.version).catch(() => undefined);
      const loaded = record ? loadConfig(record.yaml, bindings.vars) : undefined;
      if (record && loaded?.ok) return buildActiveConfig(deployed, { record, config: loaded.config });
    }
  } catch {
    // The deployed document is always a safe answer.
  }
  return buildActiveConfig(deployed, undefined);
}

function logAdoption(log: Logger, previous: ActiveConfig | undefined, next: ActiveConfig): void {
  const version = next.version?.version;
  if (!previous) {
    log.info('Configuration loaded', { version: version ?? 'deployed', source: next.version?.source ?? 'deploy' });
  } else {
    log.info('Config reload received', { version, source: next.version?.source });
    const sections = new Map<string, string[]>();
    for (const change of configChanges(previous.config, next.config)) {
      const section = sectionOf(change);
      sections.set(section, [...(sections.get(section) ?? []), change.field]);
    }
    for (const [section, fields] of sections) log.info('Config section reloaded', { section, fields });
  }
  for (const change of pendingDeploy(next)) {
    log.warn('Config field changed but requires deploy to take effect', { field: change.field, change: change.change, version });
  }
  if (previous) log.info('Configuration reload complete', { version });
}

function sectionOf(change: ConfigChange): string {
  if (change.field.startsWith('buckets')) return 'buckets';
  if (change.field.startsWith('backends')) return `backends.${change.field.split('.').pop() ?? ''}`;
  return change.field;
}
