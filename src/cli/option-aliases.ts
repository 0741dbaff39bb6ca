/**
 * The seed's single-dash spellings (`-set debug`, `-key bucket/key`) and `-h`, rewritten to the long options the
 * parser knows. node:util's parseArgs would read `-set` as the short options -s -e -t, so the rewrite comes first;
 * it keeps one argument per argument, so an error can still quote what was typed at the same index.
 */
import type { OptionTable } from './command-table.ts';

export function withLongSpellings(argv: readonly string[], options: OptionTable): string[] {
  const longName = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) for (const alias of spec.aliases ?? []) longName.set(alias, name);
  const end = argv.indexOf('--');
  return argv.map((arg, i) => {
    // After `--` everything is an operand, whatever it looks like.
    if (end >= 0 && i > end) return arg;
    const eq = arg.indexOf('=');
    const name = longName.get(eq > 0 ? arg.slice(0, eq) : arg);
    return name === undefined ? arg : `--${name}${eq > 0 ? arg.slice(eq) : ''}`;
  });
}

/** The option as typed at the start of `arg` (`-key=a/b` → `-key`), for error messages. */
export function spelledOption(arg: string): string {
  const eq = arg.indexOf('=');
  return eq > 0 ? arg.slice(0, eq) : arg;
}
