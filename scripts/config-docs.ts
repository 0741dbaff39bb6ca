/**
 * Rewrites the key tables of docs/configuration.md from the configuration schema (src/config/schema.ts).
 * Run it after changing a key; test/unit/config-docs.test.ts fails until the document matches.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigDocs } from '../src/config/config-docs.ts';

const path = new URL('../docs/configuration.md', import.meta.url);
const before = readFileSync(path, 'utf8');
const after = renderConfigDocs(before);
if (after === before) console.log('docs/configuration.md: the key tables are up to date');
else {
  writeFileSync(path, after);
  console.log('docs/configuration.md: key tables rewritten from the schema');
}
