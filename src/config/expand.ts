/**
 * `${VAR}` expansion in string values, after parsing, so that a secret containing `$` survives and a missing
 * variable is reported with the path of the value that needed it. `$${` escapes a literal `${`. Which variables
 * exist at all is decided before (config-variables.ts); what expanded is recorded so that no message built from
 * the expanded document can echo a value (`redactExpanded`).
 */
const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface ExpandProblem {
  path: string;
  message: string;
}

/** name -> value of every variable a document expanded. */
export type Expansions = Map<string, string>;

export function expandVariables(
  value: unknown,
  vars: Readonly<Record<string, unknown>>,
  problems: ExpandProblem[],
  path = '',
  expanded: Expansions = new Map(),
): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (match, name: string | undefined) => {
      if (name === undefined) return '${';
      const replacement = Object.hasOwn(vars, name) ? vars[name] : undefined;
      if (typeof replacement !== 'string') {
        problems.push({
          path,
          message: `\${${name}} is not set (a configuration variable is a Worker var or secret that the deployed document references or S3O_CONFIG_VARS lists)`,
        });
        return match;
      }
      expanded.set(name, replacement);
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandVariables(item, vars, problems, `${path}[${i}]`, expanded));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      out[key] = expandVariables(child, vars, problems, path ? `${path}.${key}` : key, expanded);
    }
    return out;
  }
  return value;
}

/** The names a document's text references (comments included: the text is what the operator deployed). */
export function referencedVariables(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(PLACEHOLDER)) if (match[1] !== undefined) names.add(match[1]);
  return [...names];
}

/** Values shorter than this are not worth hiding (and would mangle ordinary words); secrets are longer. */
const MIN_REDACTED_LENGTH = 4;
/** Validation messages quote at most this many characters of a value (fields.ts `describe`). */
const QUOTED_PREFIX = 40;

/**
 * `text` with every expanded value (as is, JSON-escaped, or cut to the prefix a message quotes) replaced by the
 * `${NAME}` it came from.
 */
export function redactExpanded(text: string, expansions: Iterable<[string, string]>): string {
  const forms: [string, string][] = [];
  for (const [name, value] of expansions) {
    if (value.length < MIN_REDACTED_LENGTH) continue;
    const escaped = JSON.stringify(value).slice(1, -1);
    for (const form of new Set([value, escaped, value.slice(0, QUOTED_PREFIX), escaped.slice(0, QUOTED_PREFIX)])) forms.push([form, `\${${name}}`]);
  }
  forms.sort(([a], [b]) => b.length - a.length);
  let out = text;
  for (const [form, reference] of forms) out = out.split(form).join(reference);
  return out;
}
