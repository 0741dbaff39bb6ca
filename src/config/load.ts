/** From YAML text to a validated Config: parse, expand `${VAR}` from the Worker's vars and secrets, validate. */
import { parse, YAMLParseError } from 'yaml';
import { type Expansions, expandVariables, redactExpanded } from './expand.ts';
import type { ConfigProblem } from './fields.ts';
import type { Config } from './types.ts';
import { validateConfig } from './validate.ts';

export type LoadResult = { ok: true; config: Config } | { ok: false; problems: ConfigProblem[] };

export interface CheckReport {
  /** Problems that make the document invalid wherever it is used. */
  problems: ConfigProblem[];
  /** `${VAR}` references with no value here (the deployed Worker may have them as secrets). */
  unsetVariables: ConfigProblem[];
  config: Config | undefined;
}

/** Checks a document, keeping unset variables apart from real problems. */
export function checkConfig(yamlText: string, vars: Readonly<Record<string, unknown>>): CheckReport {
  let doc: unknown;
  try {
    doc = parse(yamlText, { maxAliasCount: 100, uniqueKeys: true });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? `line ${err.linePos[0].line}` : '';
    const message = err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err);
    return { problems: [{ path: where, message: `invalid YAML: ${message}` }], unsetVariables: [], config: undefined };
  }
  const unsetVariables: ConfigProblem[] = [];
  const expanded: Expansions = new Map();
  const result = validateConfig(expandVariables(doc, vars, unsetVariables, '', expanded));
  if (result.ok) return { problems: [], unsetVariables, config: result.config };
  // A value still holding its placeholder fails its own checks too; report the cause once.
  const unsetPaths = new Set(unsetVariables.map((p) => p.path));
  // Messages quote the values they refuse; an expanded one goes back to its ${NAME}, never out as a secret.
  const problems = result.problems
    .filter((p) => !unsetPaths.has(p.path))
    .map((p) => ({ path: p.path, message: redactExpanded(p.message, expanded) }));
  return { problems, unsetVariables, config: undefined };
}

/** The Worker's view: every variable must be set and every check must pass. */
export function loadConfig(yamlText: string, vars: Readonly<Record<string, unknown>>): LoadResult {
  const report = checkConfig(yamlText, vars);
  if (report.config && report.unsetVariables.length === 0) return { ok: true, config: report.config };
  return { ok: false, problems: [...report.unsetVariables, ...report.problems] };
}

export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('\n');
}
