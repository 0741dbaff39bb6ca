/**
 * `${VAR}` expansion in string values, after parsing, so that a secret containing `$` survives and a missing
 * variable is reported with the path of the value that needed it. `$${` escapes a literal `${`.
 */
const PLACEHOLDER = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

export interface ExpandProblem {
  path: string;
  message: string;
}

export function expandVariables(
  value: unknown,
  vars: Readonly<Record<string, unknown>>,
  problems: ExpandProblem[],
  path = '',
): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (match, name: string | undefined) => {
      if (name === undefined) return '${';
      const replacement = vars[name];
      if (typeof replacement !== 'string') {
        problems.push({ path, message: `\${${name}} is not set (define it as a Worker var or secret)` });
        return match;
      }
      return replacement;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandVariables(item, vars, problems, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, child] of Object.entries(value)) {
      out[key] = expandVariables(child, vars, problems, path ? `${path}.${key}` : key);
    }
    return out;
  }
  return value;
}
