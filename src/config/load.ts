/** From YAML text to a validated Config: parse, expand `${VAR}` from the Worker's vars and secrets, validate. */
import { parse, YAMLParseError } from 'yaml';
import { expandVariables } from './expand.ts';
import type { ConfigProblem } from './fields.ts';
import type { Config } from './types.ts';
import { validateConfig } from './validate.ts';

export type LoadResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

export function loadConfig(yamlText: string, vars: Readonly<Record<string, unknown>>): LoadResult {
  let doc: unknown;
  try {
    doc = parse(yamlText, { maxAliasCount: 100, uniqueKeys: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? `line ${err.linePos[0].line}` : '';
    const message = err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err);
    return { ok: false, problems: [{ path: where, message: `invalid YAML: ${message}` }] };
  }
  const problems: ConfigProblem[] = [];
  const expanded = expandVariables(doc, vars, problems);
  const result = validateConfig(expanded);
  if (!result.ok) return { ok: false, problems: [...problems, ...result.problems] };
  if (problems.length > 0) return { ok: false, problems };
  return result;
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('\n');
}
