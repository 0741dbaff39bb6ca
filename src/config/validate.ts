/**
 * Turns a parsed (and variable-expanded) document into a Config, reporting every problem with its path: each key
 * by the schema (schema.ts), then the rules that span the document (unique names and key ids, the replication
 * factor against the backends), which run even when other keys are wrong so that one pass reports everything.
 */
import * as v from 'valibot';
import type { ConfigProblem } from './fields.ts';
import { configDocument } from './schema.ts';
import type { Config } from './types.ts';

export type ValidationResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

type Mapping = Record<string, unknown>;

export function validateConfig(input: unknown): ValidationResult {
  if (!isMapping(input)) return { ok: false, problems: [{ path: '', message: 'the configuration must be a YAML mapping at the top level' }] };
  // One problem per value, as a person fixes them: the first rule a value breaks.
  const result = v.safeParse(configDocument.schema, input, { abortPipeEarly: true });
  const problems = [...(result.issues ?? []).map(toProblem), ...documentProblems(input)];
  if (result.success && problems.length === 0) return { ok: true, config: result.output };
  return { ok: false, problems };
}

function toProblem(issue: v.BaseIssue<unknown>): ConfigProblem {
  let path = '';
  for (const item of issue.path ?? []) {
    if (typeof item.key === 'number') path += `[${item.key}]`;
    else path += path ? `.${String(item.key)}` : String(item.key);
  }
  return { path, message: issue.message };
}

function documentProblems(doc: Mapping): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const buckets = entries(doc, 'buckets');
  const backends = entries(doc, 'backends');
  for (const i of repeated(buckets.map((b) => b.name))) problems.push({ path: `buckets[${i}].name`, message: `duplicate bucket name "${String(buckets[i]?.name)}"` });
  for (const i of repeated(backends.map((b) => b.name))) problems.push({ path: `backends[${i}].name`, message: `duplicate backend name "${String(backends[i]?.name)}"` });
  const keyOwners = new Map<string, string>();
  buckets.forEach((bucket, b) =>
    entries(bucket, 'credentials').forEach((credential, c) => {
      const id = credential.access_key_id;
      if (typeof id !== 'string' || !id) return;
      const here = `buckets[${b}].credentials[${c}].access_key_id`;
      const first = keyOwners.get(id);
      if (first) problems.push({ path: here, message: `access key id is already used at ${first}; each key must be unique` });
      else keyOwners.set(id, here);
    }),
  );
  const factor = isMapping(doc.replication) ? doc.replication.factor : undefined;
  if (Number.isSafeInteger(factor) && typeof factor === 'number' && backends.length > 0 && factor > backends.length) {
    problems.push({ path: 'replication.factor', message: `must be at most the number of backends (${backends.length}), got ${factor}` });
  }
  problems.push(...lifecycleRuleProblems(doc, buckets));
  return problems;
}

/** Each lifecycle rule names a configured bucket, and no (bucket, prefix) has two rules. */
function lifecycleRuleProblems(doc: Mapping, buckets: Mapping[]): ConfigProblem[] {
  if (!isMapping(doc.lifecycle)) return [];
  const names = new Set(buckets.map((b) => b.name).filter((name) => typeof name === 'string'));
  const problems: ConfigProblem[] = [];
  const seen = new Map<string, number>();
  entries(doc.lifecycle, 'rules').forEach((rule, i) => {
    const { bucket } = rule;
    if (typeof bucket !== 'string' || !bucket) return;
    if (!names.has(bucket)) problems.push({ path: `lifecycle.rules[${i}].bucket`, message: `names bucket "${bucket}", which is not in buckets[]` });
    const prefix = typeof rule.prefix === 'string' ? rule.prefix : '';
    const id = JSON.stringify([bucket, prefix]);
    const first = seen.get(id);
    if (first !== undefined) problems.push({ path: `lifecycle.rules[${i}].prefix`, message: `repeats lifecycle.rules[${first}] (bucket "${bucket}", prefix "${prefix}"); give each bucket and prefix one rule` });
    else seen.set(id, i);
  });
  return problems;
}

/** The entries of a list of mappings (an entry that is not one counts, as an empty mapping, to keep indexes). */
function entries(doc: Mapping, key: string): Mapping[] {
  const list = doc[key];
  return Array.isArray(list) ? list.map((entry) => (isMapping(entry) ? entry : {})) : [];
}

/** Indexes of entries that repeat an earlier non-empty string. */
function repeated(values: unknown[]): number[] {
  const seen = new Set<string>();
  const repeats: number[] = [];
  values.forEach((value, i) => {
    if (typeof value !== 'string' || !value) return;
    if (seen.has(value)) repeats.push(i);
    seen.add(value);
  });
  return repeats;
}

function isMapping(value: unknown): value is Mapping {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
