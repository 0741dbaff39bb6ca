/** A configuration document safe to show: every secret value replaced, comments and layout kept. */
import { isScalar, parseDocument, visit } from 'yaml';
import type { Keys } from './schema-kit.ts';
import { configDocument } from './schema.ts';

export const MASK = '********';
/** The names of the schema's secret keys, and names that keys of later sections (encryption) will use. */
const SECRET_KEYS = new Set([...secretNames(configDocument.keys), 'master_key', 'password', 'session_secret', 'admin_secret', 'secret']);

function secretNames(keys: Keys): string[] {
  return Object.entries(keys).flatMap(([name, key]) => [...(key.about.secret ? [name] : []), ...(key.keys ? secretNames(key.keys) : [])]);
}
/** A `${VAR}` reference names where the secret lives, not the secret itself, so it stays visible. */
const REFERENCE = /^\$\{[A-Za-z_][A-Za-z0-9_]*\}$/;

export function maskSecrets(yamlText: string): string {
  const doc = parseDocument(yamlText, { uniqueKeys: false });
  if (doc.errors.length > 0) return '# (the document does not parse; not shown)\n';
  visit(doc, {
    Pair(_, pair) {
      if (!isScalar(pair.key) || !SECRET_KEYS.has(String(pair.key.value))) return;
      if (isScalar(pair.value)) {
        if (typeof pair.value.value === 'string' && REFERENCE.test(pair.value.value)) return;
        pair.value.value = MASK;
      } else if (pair.value !== null) {
        pair.value = doc.createNode(MASK);
      }
    },
  });
  return doc.toString();
}
