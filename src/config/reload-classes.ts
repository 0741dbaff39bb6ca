/**
 * Which settings a pushed configuration version changes at runtime ("reloadable") and which wait for the next
 * deploy ("deploy-only"), after the seed's SIGHUP lists. Each key's class is in the schema (schema.ts);
 * `configChanges` reports every difference with its class, and `applyReloadable` builds the effective configuration
 * from the deployed one and a pushed one. A unit test checks the two agree field by field.
 */
import type { Key, Keys, Reload } from './schema-kit.ts';
import { configDocument } from './schema.ts';
import type { Config } from './types.ts';

export type ReloadEffect = Reload;

export interface ConfigChange {
  /** The field's path in the YAML document, with list entries named: `backends[b1].quota_bytes`. */
  field: string;
  change: 'added' | 'removed' | 'changed';
  effect: ReloadEffect;
  /** Old and new value for display; absent for secrets and for whole entries. */
  from?: string;
  to?: string;
}

type Value = Record<string, unknown>;

/** Every difference from `from` to `to`, in document order. */
export function configChanges(from: Config, to: Config): ConfigChange[] {
  const changes: ConfigChange[] = [];
  compareKeys(configDocument.keys, from, to, '', undefined, changes);
  return changes;
}

/**
 * The configuration in effect: everything from the deployed document, except the reloadable settings, which come
 * from the pushed version. A pushed backend the deployment does not have is ignored until it is deployed.
 */
export function applyReloadable(deployed: Config, pushed: Config): Config {
  return applyKeys(configDocument.keys, deployed, pushed, undefined) as Config;
}

/** A key's value in its section's Config value (a merged section's fields sit in the parent's). */
function valueOf(key: Key, section: Value): unknown {
  return key.as === '' ? section : section[key.as];
}

function compareKeys(keys: Keys, from: Value, to: Value, prefix: string, inherited: Reload | undefined, changes: ConfigChange[]): void {
  for (const [name, key] of Object.entries(keys)) {
    const field = `${prefix}${name}`;
    const effect = key.about.reload ?? inherited;
    const before = valueOf(key, from);
    const after = valueOf(key, to);
    // A list with its own `show` (lifecycle rules) changes as a whole.
    if (key.identity && key.keys && !key.show) compareEntries(key, before as Value[], after as Value[], field, effect ?? 'deploy-only', changes);
    else if (key.keys && !key.show) compareKeys(key.keys, before as Value, after as Value, `${field}.`, effect, changes);
    else compareValue(key, before, after, field, effect ?? 'deploy-only', changes);
  }
}

function compareValue(key: Key, before: unknown, after: unknown, field: string, effect: Reload, changes: ConfigChange[]): void {
  const show = key.show ?? asWritten;
  const [a, b] = [show(before), show(after)];
  if (a === b) return;
  const change = a === '' ? 'added' : b === '' ? 'removed' : 'changed';
  changes.push({ field, change, effect, ...(key.about.secret ? {} : { from: a, to: b }) });
}

/** List entries are matched by their identity key: `buckets[photos]`, `credentials[AKIA1]`. */
function compareEntries(list: Key, from: Value[], to: Value[], path: string, effect: Reload, changes: ConfigChange[]): void {
  const id = identityOf(list);
  const after = new Map(to.map((entry) => [id(entry), entry]));
  const before = new Set(from.map(id));
  for (const entry of from) {
    const field = `${path}[${id(entry)}]`;
    const next = after.get(id(entry));
    if (next) compareKeys(list.keys ?? {}, entry, next, `${field}.`, effect, changes);
    else changes.push({ field, change: 'removed', effect });
  }
  for (const entry of to) if (!before.has(id(entry))) changes.push({ field: `${path}[${id(entry)}]`, change: 'added', effect });
}

function applyKeys(keys: Keys, deployed: Value, pushed: Value, inherited: Reload | undefined): Value {
  const out: Value = { ...deployed };
  for (const key of Object.values(keys)) {
    const reload = key.about.reload ?? inherited;
    const [mine, theirs] = [valueOf(key, deployed), valueOf(key, pushed)];
    let value: unknown;
    if (key.identity && key.keys && !key.show && reload !== 'reloadable') {
      // Entries stay those deployed; each takes its reloadable fields from the pushed entry of the same name.
      const id = identityOf(key);
      const nested = key.keys;
      value = (mine as Value[]).map((entry) => {
        const match = (theirs as Value[]).find((other) => id(other) === id(entry));
        return match ? applyKeys(nested, entry, match, reload) : entry;
      });
    } else if (key.keys && !key.identity && !key.show) value = applyKeys(key.keys, mine as Value, theirs as Value, reload);
    else value = reload === 'reloadable' ? theirs : mine;
    if (key.as === '') Object.assign(out, value);
    else out[key.as] = value;
  }
  return out;
}

function identityOf(list: Key): (entry: Value) => string {
  const identity = list.identity ?? 'name';
  const field = list.keys?.[identity]?.as ?? identity;
  return (entry) => String(entry[field]);
}

function asWritten(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}
