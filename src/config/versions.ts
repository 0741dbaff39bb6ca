/**
 * Numbered configuration versions in the config KV namespace:
 *
 *   config/versions/0000000007  one JSON record per version (never rewritten), summary in the key's metadata
 *   config/active               a copy of the record in effect, so an isolate needs one read to follow it
 *
 * Every new version, whether pushed, rolled back to or published by a deploy, gets the next number and becomes
 * active at once. KV has no transactions: two pushes in the same instant can pick the same number, and the
 * second is refused (409) when its number is already taken at the time it checks.
 */
import type { ConfigStore } from './config-store.ts';

export const ACTIVE_KEY = 'config/active';
export const VERSION_PREFIX = 'config/versions/';

export type VersionSource = 'push' | 'deploy' | 'rollback';

export interface ConfigVersion {
  version: number;
  /** The document exactly as pushed (`${VAR}` references unexpanded). */
  yaml: string;
  createdAt: string;
  source: VersionSource;
  /** Who made it: an Access identity, "development token", or "deploy". */
  by: string;
  note?: string;
  /** For a rollback: the version whose document it restored. */
  rolledBackFrom?: number;
}

export type VersionSummary = Omit<ConfigVersion, 'yaml'>;

export class VersionConflictError extends Error {
  readonly version: number;
  constructor(version: number) {
    super(`version ${version} was created by someone else at the same time; look at the history and push again`);
    this.name = 'VersionConflictError';
    this.version = version;
  }
}

export function versionKey(version: number): string {
  return `${VERSION_PREFIX}${String(version).padStart(10, '0')}`;
}

/** Parses a stored record; throws with a readable reason when it is not one (e.g. written by hand). */
export function parseVersionRecord(text: string): ConfigVersion {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('the stored configuration version is not JSON (write versions with `s3-orchestrator config push`)');
  }
  const v = value as Partial<Record<keyof ConfigVersion, unknown>> | null;
  if (!v || typeof v !== 'object' || typeof v.yaml !== 'string' || !Number.isSafeInteger(v.version) || (v.version as number) < 1) {
    throw new Error('the stored configuration version lacks a positive "version" number or a "yaml" document');
  }
  return { ...summaryFrom(v.version as number, v), yaml: v.yaml };
}

export async function readVersion(store: ConfigStore, version: number): Promise<ConfigVersion | undefined> {
  const text = await store.get(versionKey(version));
  return text === null ? undefined : parseVersionRecord(text);
}

/** Every stored version's summary, newest first. */
export async function listVersions(store: ConfigStore): Promise<VersionSummary[]> {
  const summaries: VersionSummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(VERSION_PREFIX, cursor);
    for (const key of page.keys) {
      const version = Number(key.name.slice(VERSION_PREFIX.length));
      if (!Number.isSafeInteger(version) || version < 1) continue;
      summaries.push(summaryFrom(version, key.metadata));
    }
    cursor = page.cursor;
  } while (cursor);
  return summaries.sort((a, b) => b.version - a.version);
}

export interface NewVersion {
  yaml: string;
  source: VersionSource;
  by: string;
  note?: string | undefined;
  rolledBackFrom?: number | undefined;
}

/**
 * Stores `draft` as the next version and makes it active. The number follows both the active record and the
 * highest stored version, so a hand-edited or missing active record never reuses a number.
 */
export async function activateNewVersion(store: ConfigStore, draft: NewVersion, now = new Date()): Promise<ConfigVersion> {
  const [activeText, versions] = await Promise.all([store.get(ACTIVE_KEY), listVersions(store)]);
  let activeNumber = 0;
  try {
    activeNumber = activeText === null ? 0 : parseVersionRecord(activeText).version;
  } catch {
    // An unreadable active record does not block replacing it.
  }
  const version = Math.max(activeNumber, versions[0]?.version ?? 0) + 1;
  if ((await store.get(versionKey(version))) !== null) throw new VersionConflictError(version);
  const record: ConfigVersion = {
    version,
    yaml: draft.yaml,
    createdAt: now.toISOString(),
    source: draft.source,
    by: draft.by,
    ...(draft.note ? { note: draft.note } : {}),
    ...(draft.rolledBackFrom !== undefined ? { rolledBackFrom: draft.rolledBackFrom } : {}),
  };
  const text = JSON.stringify(record);
  const { yaml: _yaml, ...summary } = record;
  await store.put(versionKey(version), text, summary);
  await store.put(ACTIVE_KEY, text);
  return record;
}

function summaryFrom(version: number, metadata: unknown): VersionSummary {
  const m = (metadata && typeof metadata === 'object' ? metadata : {}) as Partial<Record<keyof ConfigVersion, unknown>>;
  return {
    version,
    createdAt: typeof m.createdAt === 'string' ? m.createdAt : '',
    source: m.source === 'deploy' || m.source === 'rollback' ? m.source : 'push',
    by: typeof m.by === 'string' ? m.by : 'unknown',
    ...(typeof m.note === 'string' ? { note: m.note } : {}),
    ...(typeof m.rolledBackFrom === 'number' ? { rolledBackFrom: m.rolledBackFrom } : {}),
  };
}

/**
 * What a deploy does with the document it deploys: makes it the active version, unless the active version already
 * holds exactly this document (a redeploy), so deploys and pushes share one history.
 */
export async function publishDeployedDocument(store: ConfigStore, yaml: string, now = new Date()): Promise<{ version: number; published: boolean }> {
  const activeText = await store.get(ACTIVE_KEY);
  if (activeText !== null) {
    try {
      const active = parseVersionRecord(activeText);
      if (active.yaml === yaml) return { version: active.version, published: false };
    } catch {
      // A broken active record is replaced below.
    }
  }
  const record = await activateNewVersion(store, { yaml, source: 'deploy', by: 'deploy' }, now);
  return { version: record.version, published: true };
}
