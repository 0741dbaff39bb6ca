/**
 * Configuration versions over the admin API: show, history, diff, push, rollback. A document is validated whole
 * with the Worker's own variables before anything is stored; a stored version becomes active at once, its
 * reloadable settings apply fleet-wide within the refresh bound, and its deploy-only differences are reported.
 */
import { KV_REFRESH_MS } from '../config/config-store.ts';
import { type ConfigProblem } from '../config/fields.ts';
import { redactExpanded } from '../config/expand.ts';
import { loadConfig } from '../config/load.ts';
import { maskSecrets } from '../config/mask-secrets.ts';
import { applyReloadable, type ConfigChange, configChanges } from '../config/reload-classes.ts';
import type { Config } from '../config/types.ts';
import {
  type ConfigVersion,
  type VersionSummary,
  VersionConflictError,
  ACTIVE_KEY,
  activateNewVersion,
  listVersions,
  parseVersionRecord,
  readVersion,
} from '../config/versions.ts';
import { errorFields } from '../observe/log.ts';
import { type ConfigInEffect, pendingDeploy } from '../config/in-effect.ts';
import { ensureQuotaLimitsSynced } from '../jobs/quota-sync.ts';
import type { AuditNote } from './admin-audit.ts';
import type { AdminContext } from './api.ts';
import { json, readJsonObject } from './http.ts';

const MAX_NOTE_LENGTH = 200;

/** The active version, secrets masked, with what still waits for a deploy. */
export function showConfig(context: AdminContext): Response {
  const { active } = context;
  return json(200, {
    ...(active.version ? summaryJson(active.version) : { version: null, source: 'deployed' }),
    yaml: maskSecrets(active.version?.yaml ?? context.deployedText),
    requires_deploy: shown(pendingDeploy(active), context),
    propagation_seconds: KV_REFRESH_MS / 1000,
  });
}

export async function versionHistory(context: AdminContext): Promise<Response> {
  if (!context.store) return noStore();
  const versions = await listVersions(context.store);
  return json(200, { active_version: context.active.version?.version ?? null, versions: versions.map(summaryJson) });
}

/** One stored version's document, secrets masked (the dashboard's diff view compares two of them). */
export async function versionRoute(param: string, context: AdminContext): Promise<Response> {
  if (!context.store) return noStore();
  const number = Number(param);
  if (!/^\d{1,9}$/.test(param) || number < 1) return json(400, { error: 'the version must be a whole number from 1, as `config history` lists them' });
  const version = await readVersion(context.store, number);
  if (!version) return json(404, { error: `no configuration version ${number}` });
  return json(200, { ...summaryJson(version), yaml: maskSecrets(version.yaml) });
}

/** What pushing the document would change, without storing anything. */
export async function diffConfig(request: Request, context: AdminContext): Promise<Response> {
  const body = await readJsonObject(request, '{"yaml": "<the configuration document>"}');
  if (!body.ok) return body.response;
  const candidate = validateCandidate(body.value.yaml, context);
  if (!candidate.ok) return candidate.response;
  return json(200, { base_version: context.active.version?.version ?? null, ...describeChanges(context.active, candidate.config, context) });
}

export async function pushConfig(request: Request, context: AdminContext, by: string, audit: AuditNote = () => {}): Promise<Response> {
  if (!context.store) return noStore();
  const body = await readJsonObject(request, '{"yaml": "<the configuration document>", "note": "optional"}');
  if (!body.ok) return body.response;
  const note = body.value.note;
  if (note !== undefined && (typeof note !== 'string' || note.length > MAX_NOTE_LENGTH)) {
    return json(400, { error: `note must be a string of at most ${MAX_NOTE_LENGTH} characters` });
  }
  context.services.log.info('Config push received', { by });
  const candidate = validateCandidate(body.value.yaml, context);
  if (!candidate.ok) return candidate.response;
  return activate(context, { yaml: candidate.yaml, config: candidate.config, source: 'push', by, note }, audit);
}

/** Makes an earlier version's document active again, as a new version (history only grows). */
export async function rollbackConfig(request: Request, context: AdminContext, by: string, audit: AuditNote = () => {}): Promise<Response> {
  if (!context.store) return noStore();
  const body = await readJsonObject(request, '{"version": 3}');
  if (!body.ok) return body.response;
  const target = body.value.version;
  audit({ rolled_back_from: typeof target === 'number' ? target : undefined });
  if (typeof target !== 'number' || !Number.isSafeInteger(target) || target < 1) {
    return json(400, { error: 'version must be a positive whole number' });
  }
  const record = await readVersion(context.store, target);
  if (!record) return json(404, { error: `there is no configuration version ${target} (see the history)` });
  const candidate = validateCandidate(record.yaml, context, `version ${target} is not valid here any more; nothing changed`);
  if (!candidate.ok) return candidate.response;
  return activate(context, { yaml: record.yaml, config: candidate.config, source: 'rollback', by, rolledBackFrom: target }, audit);
}

interface Activation {
  yaml: string;
  config: Config;
  source: 'push' | 'rollback';
  by: string;
  note?: string | undefined;
  rolledBackFrom?: number | undefined;
}

/** Stores and activates the document; `audit` learns the version and the names of the fields that changed. */
async function activate(context: AdminContext, change: Activation, audit: AuditNote): Promise<Response> {
  const store = context.store;
  if (!store) return noStore();
  const before = context.active;
  // "No change" only when the stored active record really holds this document: an isolate keeps its last valid
  // version while the record in KV is broken (written by hand), and pushing the same document again repairs it.
  if (before.version?.yaml === change.yaml && (await storedActiveYaml(store)) === change.yaml) {
    audit({ version: before.version.version, unchanged: true });
    return json(200, { version: before.version.version, unchanged: true, changes: [], requires_deploy: shown(pendingDeploy(before), context) });
  }
  let record: ConfigVersion;
  try {
    // The first version records what the fleet runs now, so history (and rollback) starts from there.
    if (!before.version && (await listVersions(store)).length === 0) {
      await activateNewVersion(store, { yaml: context.deployedText, source: 'deploy', by: 'deploy', note: 'deployed document' });
    }
    record = await activateNewVersion(store, change);
  } catch (err) {
    if (err instanceof VersionConflictError) return json(409, { error: err.message });
    throw err;
  }
  context.rememberActive(JSON.stringify(record));
  const after = applyReloadable(before.deployed, change.config);
  const { changes, requires_deploy } = describeChanges(before, change.config, context);
  context.services.log.info('Config version activated', {
    version: record.version,
    source: record.source,
    by: record.by,
    reloaded: changes.map((c) => c.field),
    requires_deploy: requires_deploy.map((c) => c.field),
  });
  // Field names only: the values may be secrets (a changed credential), and the document is never recorded.
  audit({ version: record.version, changed: changes.map((c) => c.field), requires_deploy: requires_deploy.map((c) => c.field) });
  // Announced to the endpoints of the version now in effect, so an endpoint added by this push hears of it.
  context.services.notify.emit(
    {
      type: 'config.version.activated',
      subject: String(record.version),
      data: { version: record.version, source: record.source, by: record.by, changed: changes.map((c) => c.field), requires_deploy: requires_deploy.map((c) => c.field) },
    },
    after.notifications.endpoints,
  );
  let quotaSync = 'synced';
  try {
    await ensureQuotaLimitsSynced(context.services, { force: true, config: after });
  } catch (err) {
    // Every isolate syncs again before its first write under the new version, and the cron repeats it.
    context.services.log.warn('quota limit sync after activation failed; will retry', errorFields(err));
    quotaSync = 'pending';
  }
  return json(201, {
    version: record.version,
    changes,
    requires_deploy,
    quota_limits: quotaSync,
    propagation_seconds: KV_REFRESH_MS / 1000,
  });
}

/** Reloadable changes against what is in effect; deploy-only ones against what is deployed. */
function describeChanges(active: ConfigInEffect, candidate: Config, context: AdminContext): { changes: ConfigChange[]; requires_deploy: ConfigChange[] } {
  return {
    changes: shown(configChanges(active.config, applyReloadable(active.deployed, candidate)), context),
    requires_deploy: shown(configChanges(active.deployed, candidate).filter((c) => c.effect === 'deploy-only'), context),
  };
}

/** Changes as an answer may show them: a value that came from a configuration variable appears as its `${NAME}`. */
function shown(changes: ConfigChange[], context: AdminContext): ConfigChange[] {
  const variables = Object.entries(context.vars).filter((entry): entry is [string, string] => typeof entry[1] === 'string');
  return changes.map((c) => ({
    ...c,
    ...(c.from === undefined ? {} : { from: redactExpanded(c.from, variables) }),
    ...(c.to === undefined ? {} : { to: redactExpanded(c.to, variables) }),
  }));
}

type Candidate = { ok: true; yaml: string; config: Config } | { ok: false; response: Response };

function validateCandidate(yaml: unknown, context: AdminContext, refusal = 'the configuration is invalid; nothing changed'): Candidate {
  if (typeof yaml !== 'string' || yaml.trim() === '') {
    return { ok: false, response: json(400, { error: '"yaml" must hold the configuration document as a string' }) };
  }
  const loaded = loadConfig(yaml, context.vars);
  if (!loaded.ok) {
    context.services.log.warn('Config push refused, keeping current config', { problems: loaded.problems.length });
    return { ok: false, response: json(400, { error: refusal, problems: loaded.problems satisfies ConfigProblem[] }) };
  }
  return { ok: true, yaml, config: loaded.config };
}

async function storedActiveYaml(store: NonNullable<AdminContext['store']>): Promise<string | undefined> {
  const raw = await store.get(ACTIVE_KEY);
  try {
    return raw === null ? undefined : parseVersionRecord(raw).yaml;
  } catch {
    return undefined;
  }
}

function summaryJson(v: VersionSummary) {
  return {
    version: v.version,
    created_at: v.createdAt,
    source: v.source,
    by: v.by,
    ...(v.note !== undefined ? { note: v.note } : {}),
    ...(v.rolledBackFrom !== undefined ? { rolled_back_from: v.rolledBackFrom } : {}),
  };
}

function noStore(): Response {
  return json(503, { error: 'no configuration store (CONFIG_KV) is bound' });
}
