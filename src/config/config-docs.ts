/**
 * The key tables of docs/configuration.md, generated from the schema. Each table sits between
 * `<!-- config-keys: SECTION -->` and `<!-- /config-keys -->` (the reload summary between
 * `<!-- config-reload-summary -->` and `<!-- /config-reload-summary -->`); the prose around them is written by hand.
 * `node scripts/config-docs.ts` rewrites them; a unit test fails when the document differs from what this makes.
 */
import type { Key, Keys, Reload } from './schema-kit.ts';
import { configDocument } from './schema.ts';

interface Row {
  path: string;
  key: Key;
  reload: Reload | undefined;
}

const ON_PUSH: Record<Reload, string> = { reloadable: 'reloads', 'deploy-only': 'deploy' };
const TOP_LEVEL: Keys = configDocument.keys;

/** Every documented key under `keys`, with its path from the section and the reload class it has or inherits. */
export function documentedKeys(keys: Keys, prefix = '', inherited?: Reload): Row[] {
  return Object.entries(keys).flatMap(([name, key]) => {
    const path = `${prefix}${name}`;
    const reload = key.about.reload ?? inherited;
    const own = key.about.meaning ? [{ path: key.identity ? `${path}[]` : path, key, reload }] : [];
    if (!key.keys) return own;
    return [...own, ...documentedKeys(key.keys, key.identity ? `${path}[].` : `${path}.`, reload)];
  });
}

/** The rows a top-level key's table shows: a section's or a list's keys, or the key itself. */
function sectionRows(name: string, key: Key): Row[] {
  return key.keys ? documentedKeys(key.keys, '', key.about.reload) : documentedKeys({ [name]: key });
}

function defaultText(key: Key): string {
  if (key.about.defaultText) return key.about.defaultText;
  if (key.identity) return 'required, at least one';
  if (key.required) return 'required';
  if (key.default === undefined) return 'none';
  const value = Array.isArray(key.default) ? `[${key.default.join(', ')}]` : String(key.default);
  return `\`${value}\`${key.about.note ? ` ${key.about.note}` : ''}`;
}

export function keyTable(section: string): string {
  const key = TOP_LEVEL[section];
  if (!key) throw new Error(`docs/configuration.md has a table for "${section}", which is not a key of the configuration`);
  const rows = sectionRows(section, key).map(({ path, key: k, reload }) => {
    const onPush = reload ? ON_PUSH[reload] : '';
    return `| \`${path}\` | ${defaultText(k)} | ${onPush} | ${k.about.meaning ?? ''} |`;
  });
  return ['| key | default | on push | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** One row per section and reload class: which settings a `config push` applies and which wait for a deploy. */
export function reloadSummary(): string {
  const rows: string[] = [];
  for (const [name, key] of Object.entries(TOP_LEVEL)) {
    const entries = key.identity ? [{ path: `${name}[]`, key, reload: key.about.reload }] : [];
    const all = [...entries, ...sectionRows(name, key).map((row) => ({ ...row, path: key.keys ? `${key.identity ? `${name}[]` : name}.${row.path}` : row.path }))];
    const classes = new Set(all.map((row) => row.reload));
    for (const reload of ['reloadable', 'deploy-only'] as const) {
      const paths = all.filter((row) => row.reload === reload).map((row) => (row.path === `${name}[]` ? `\`${name}[]\` (adding or removing one)` : `\`${row.path}\``));
      if (paths.length === 0) continue;
      rows.push(`| ${classes.size === 1 ? `\`${name}\`` : paths.join(', ')} | ${reload === 'reloadable' ? 'reloads' : 'requires deploy'} |`);
    }
  }
  return ['| setting | on push |', '|---|---|', ...rows].join('\n');
}

const TABLE = /(<!-- config-keys: ([a-z_]+) -->\n)(?:[\s\S]*?\n)??(<!-- \/config-keys -->)/g;
const SUMMARY = /(<!-- config-reload-summary -->\n)(?:[\s\S]*?\n)??(<!-- \/config-reload-summary -->)/;

/** `doc` with every generated table rewritten; throws when a top-level key has no table. */
export function renderConfigDocs(doc: string): string {
  const tabled = new Set<string>();
  const out = doc
    .replace(TABLE, (_, open: string, section: string, close: string) => {
      tabled.add(section);
      return `${open}${keyTable(section)}\n${close}`;
    })
    .replace(SUMMARY, (_, open: string, close: string) => `${open}${reloadSummary()}\n${close}`);
  const missing = Object.keys(TOP_LEVEL).filter((name) => !tabled.has(name));
  if (missing.length > 0) throw new Error(`docs/configuration.md has no key table for: ${missing.join(', ')}`);
  if (!SUMMARY.test(doc)) throw new Error('docs/configuration.md has no reload summary');
  return out;
}
