import { describe, expect, it } from 'vitest';
import doc from '../../docs/configuration.md?raw';
import { documentedKeys, renderConfigDocs } from '../../src/config/config-docs.ts';
import type { Keys } from '../../src/config/schema-kit.ts';
import { configDocument } from '../../src/config/schema.ts';

/** Every key that holds a value (not a section or a list of them), with its path. */
function leaves(keys: Keys, prefix = ''): [string, Keys[string]][] {
  return Object.entries(keys).flatMap(([name, key]): [string, Keys[string]][] =>
    key.keys && !key.show ? leaves(key.keys, `${prefix}${name}${key.identity ? '[]' : ''}.`) : [[`${prefix}${name}`, key]],
  );
}

describe('docs/configuration.md', () => {
  it('has the key tables the schema generates (run `node scripts/config-docs.ts` after changing a key)', () => {
    expect(renderConfigDocs(doc)).toBe(doc);
  });

  it('documents every key, each with a reload class', () => {
    const documented = documentedKeys(configDocument.keys);
    const paths = new Set(documented.map((row) => row.path));
    for (const [path] of leaves(configDocument.keys)) {
      // Compared as one value, documented by their keys.
      if (['admin.access', 'encryption.vault', 'lifecycle.rules', 'notifications.endpoints'].includes(path)) continue;
      expect(paths, path).toContain(path);
    }
    for (const row of documented) expect(row.reload, row.path).toBeDefined();
    expect(paths).toContain('admin.access.team_domain');
    expect(paths).toContain('encryption.vault.key_name');
    expect(paths).toContain('lifecycle.rules[].expiration_days');
    expect(paths).toContain('notifications.endpoints[].events');
  });
});
