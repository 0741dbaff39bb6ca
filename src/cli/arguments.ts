/**
 * The command line as people type it, made regular before any command reads it: options may come before or
 * after the command, `--name=value` equals `--name value`, the seed's single-dash spellings (`-set`, `-key`) are
 * kept, and an unknown option is refused with one line (exit 2) instead of being ignored.
 */

/** Options that take a value. The seed spells some with one dash. */
export const VALUE_OPTIONS = new Set([
  '--url', '--token', '--access-client-id', '--access-client-secret', '--vars', '--note',
  '-set', '--set', '-key', '--key', '--batch-size', '--stuck-after',
]);
/** Switches. */
const FLAG_OPTIONS = new Set(['--json', '--watch', '--purge', '--confirm', '--execute', '--reset', '--help', '-h']);

export type ParsedArguments =
  | { ok: true; positionals: string[]; options: string[]; json: boolean; help: boolean }
  | { ok: false; error: string; json: boolean };

export function parseArguments(argv: readonly string[]): ParsedArguments {
  const json = argv.includes('--json') || argv.some((a) => a.startsWith('--json='));
  const positionals: string[] = [];
  const options: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUE_OPTIONS.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) return { ok: false, error: `option ${name} needs a value`, json };
      options.push(name, value);
    } else if (FLAG_OPTIONS.has(name)) {
      if (eq > 0) return { ok: false, error: `option ${name} takes no value`, json };
      if (name === '--help' || name === '-h') help = true;
      else if (name !== '--json') options.push(name);
    } else {
      return { ok: false, error: `unknown option ${name} (see s3-orchestrator help)`, json };
    }
  }
  return { ok: true, positionals, options, json, help };
}
