/** The lifecycle and cleanup_queue sections: defaults, the rules' checks, and that a push applies them whole. */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import { applyReloadable, configChanges } from '../../src/config/reload-classes.ts';
import type { Config } from '../../src/config/types.ts';
import { BASE_DOCUMENT } from './support/config-document.ts';

const BASE = BASE_DOCUMENT;

function load(extra: string) {
  return loadConfig(`${BASE}${extra}`, {});
}

function config(extra: string): Config {
  const result = load(extra);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config;
}

function problems(extra: string): string[] {
  const result = load(extra);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('lifecycle configuration', () => {
  it('defaults: no rules, batches of 100, uploads stale after 24 h', () => {
    const c = config('');
    expect(c.lifecycle).toEqual({ rules: [], batchSize: 100 });
    expect(c.cleanupQueue).toEqual({ multipartStaleTimeoutMs: 24 * 60 * 60_000 });
  });

  it('reads rules with a bucket, a key prefix (empty or left out: the whole bucket) and days', () => {
    const c = config(`
lifecycle:
  rules:
    - { bucket: photos, prefix: tmp/, expiration_days: 7 }
    - { bucket: photos, expiration_days: 30 }
    - { bucket: archive, prefix: "", expiration_days: 1 }
  batch_size: 10
cleanup_queue: { multipart_stale_timeout: 2h }
`);
    expect(c.lifecycle.rules).toEqual([
      { bucket: 'photos', prefix: 'tmp/', expirationDays: 7 },
      { bucket: 'photos', prefix: '', expirationDays: 30 },
      { bucket: 'archive', prefix: '', expirationDays: 1 },
    ]);
    expect(c.lifecycle.batchSize).toBe(10);
    expect(c.cleanupQueue.multipartStaleTimeoutMs).toBe(2 * 60 * 60_000);
  });

  it('refuses a rule naming an unknown bucket, a repeated (bucket, prefix), bad days and unknown keys', () => {
    expect(
      problems(`
lifecycle:
  rules:
    - { bucket: videos, prefix: a/, expiration_days: 1 }
    - { bucket: photos, prefix: tmp/, expiration_days: 7 }
    - { bucket: photos, prefix: tmp/, expiration_days: 3 }
    - { bucket: photos, prefix: x/, expiration_days: 0 }
    - { bucket: photos, prefix: y/, expiration_days: 1.5 }
    - { bucket: photos, prefix: z/, expiration_days: "7" }
    - { bucket: photos, prefix: w/ }
    - { bucket: photos, prefix: v/, expiration_days: 2, days: 3 }
    - { prefix: u/, expiration_days: 2 }
`),
    ).toEqual([
      'lifecycle.rules[3].expiration_days: must be a whole number of days from 1 to 36500, got 0',
      'lifecycle.rules[4].expiration_days: must be a whole number of days from 1 to 36500, got 1.5',
      'lifecycle.rules[5].expiration_days: must be a whole number of days from 1 to 36500, got "7"',
      'lifecycle.rules[6].expiration_days: is required',
      'lifecycle.rules[7].days: unknown key (expected one of: bucket, prefix, expiration_days)',
      'lifecycle.rules[8].bucket: is required',
      'lifecycle.rules[0].bucket: names bucket "videos", which is not in buckets[]',
      'lifecycle.rules[2].prefix: repeats lifecycle.rules[1] (bucket "photos", prefix "tmp/"); give each bucket and prefix one rule',
    ]);
    // A left-out prefix and an empty one are the same rule.
    expect(problems('lifecycle: { rules: [{ bucket: photos, expiration_days: 1 }, { bucket: photos, prefix: "", expiration_days: 2 }] }')).toEqual([
      'lifecycle.rules[1].prefix: repeats lifecycle.rules[0] (bucket "photos", prefix ""); give each bucket and prefix one rule',
    ]);
    expect(problems('lifecycle: { rules: photos }')).toEqual(['lifecycle.rules: must be a list, got "photos"']);
    expect(problems('lifecycle: { batch_size: 0 }')).toEqual(['lifecycle.batch_size: must be a whole number >= 1, got 0']);
    expect(problems('cleanup_queue: { multipart_stale_timeout: 10m }')).toEqual(['cleanup_queue.multipart_stale_timeout: must be a duration such as "30s", "5m" or "1h" of at least 3600 s, got "10m"']);
  });

  it('a push applies the rules and the timeout at once, and reports the change', () => {
    const deployed = config('');
    const pushed = config(`
lifecycle: { rules: [{ bucket: photos, prefix: tmp/, expiration_days: 7 }] }
cleanup_queue: { multipart_stale_timeout: 48h }
`);
    const effective = applyReloadable(deployed, pushed);
    expect(effective.lifecycle).toEqual(pushed.lifecycle);
    expect(effective.cleanupQueue).toEqual(pushed.cleanupQueue);
    expect(configChanges(deployed, pushed)).toEqual([
      { field: 'lifecycle.rules', change: 'added', effect: 'reloadable', from: '', to: 'photos/tmp/* after 7d' },
      { field: 'cleanup_queue.multipart_stale_timeout', change: 'changed', effect: 'reloadable', from: '86400s', to: '172800s' },
    ]);
    expect(configChanges(pushed, applyReloadable(pushed, deployed))).toEqual([
      { field: 'lifecycle.rules', change: 'removed', effect: 'reloadable', from: 'photos/tmp/* after 7d', to: '' },
      { field: 'cleanup_queue.multipart_stale_timeout', change: 'changed', effect: 'reloadable', from: '172800s', to: '86400s' },
    ]);
  });
});
