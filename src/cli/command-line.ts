/**
 * The command line as people type it, read with node:util's parseArgs against the command table. Options may come
 * before or after the command, `--name=value` equals `--name value`, and the seed's single-dash spellings are
 * aliases. Each command takes only its own options and operands: anything else is refused with one line naming the
 * option and the command (exit 2 in main), never ignored.
 */
import { parseArgs } from 'node:util';
import { type Command, type CommandInput, EVERY_COMMAND_OPTIONS, type OptionTable, REMOTE_OPTIONS, optionsOf } from './command-table.ts';
import { spelledOption, withLongSpellings } from './option-aliases.ts';

export type CommandLine = { json: boolean } & (
  | { kind: 'run'; command: Command; input: CommandInput }
  /** `command` when the help is for one; exit 2 when nothing was asked (a bare `s3-orchestrator`). */
  | { kind: 'help'; command?: Command; exitCode: 0 | 2 }
  | { kind: 'usage-error'; message: string }
);

type Token = NonNullable<ReturnType<typeof parseArgs>['tokens']>[number];

export function parseCommandLine(argv: readonly string[], commands: readonly Command[]): CommandLine {
  // Known before anything can go wrong, so that even a usage error is answered as JSON.
  const json = argv.some((arg) => arg === '--json' || arg.startsWith('--json='));
  const allOptions = everyOption(commands);
  const args = withLongSpellings(argv, allOptions);
  // A first, lenient pass finds the command words: it must know every option that takes a value so that the value
  // is not mistaken for a command word. Its tokens also explain a refusal of the strict pass.
  const lenient = parseArgs({ args, options: allOptions, strict: false, allowPositionals: true, tokens: true });
  const tokens = lenient.tokens ?? [];
  const words = lenient.positionals;
  const command = findCommand(words, commands);
  if (tokens.some((t) => t.kind === 'option' && t.name === 'help')) return { json, kind: 'help', command, exitCode: 0 };
  if (command === undefined) {
    if (words.length === 0) return { json, kind: 'help', exitCode: 2 };
    return { json, kind: 'usage-error', message: unknownCommand(words, commands) };
  }

  const accepted = optionsOf(command);
  let strict: ReturnType<typeof parseArgs>;
  try {
    strict = parseArgs({ args, options: accepted, strict: true, allowPositionals: true });
  } catch (err) {
    const message = explainRefusal(tokens, argv, accepted, command) ?? (err instanceof Error ? err.message : String(err));
    return { json, kind: 'usage-error', message };
  }
  const repeated = repeatedValueOption(tokens, argv, accepted);
  if (repeated) return { json, kind: 'usage-error', message: `option ${repeated} is given twice` };
  const operands = bindOperands(command, strict.positionals.slice(command.name.split(' ').length));
  if (typeof operands === 'string') return { json, kind: 'usage-error', message: operands };
  const options: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(strict.values)) if (typeof value === 'string' || typeof value === 'boolean') options[name] = value;
  return { json, kind: 'run', command, input: { options, operands, json } };
}

/** The table's options merged; one name means one thing across commands, or the first pass could not be right. */
function everyOption(commands: readonly Command[]): OptionTable {
  const all: Record<string, OptionTable[string]> = { ...EVERY_COMMAND_OPTIONS, ...REMOTE_OPTIONS };
  for (const command of commands) {
    for (const [name, spec] of Object.entries(command.options)) {
      const known = all[name];
      if (known && known.type !== spec.type) throw new Error(`the command table gives --${name} two types (${known.type}, ${spec.type})`);
      all[name] = spec;
    }
  }
  return all;
}

/** The longest table entry whose words begin the command line's words. */
function findCommand(words: readonly string[], commands: readonly Command[]): Command | undefined {
  let found: Command | undefined;
  for (const command of commands) {
    const name = command.name.split(' ');
    if (name.every((word, i) => words[i] === word) && name.length > (found?.name.split(' ').length ?? 0)) found = command;
  }
  return found;
}

function unknownCommand(words: readonly string[], commands: readonly Command[]): string {
  const typed = words.slice(0, 2).join(' ');
  // `admin frobnicate`: list what the admin group has.
  const group = commands.filter((c) => c.name.startsWith(`${words[0]} `)).map((c) => c.name);
  return group.length > 0 ? `unknown command "${typed}" (available: ${group.join(', ')})` : `unknown command "${typed}" (see s3-orchestrator help)`;
}

/** The first option the strict pass refused, in the words the user typed. */
function explainRefusal(tokens: readonly Token[], argv: readonly string[], accepted: OptionTable, command: Command): string | undefined {
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const typed = spelledOption(argv[token.index] ?? token.rawName);
    const spec = accepted[token.name];
    if (spec === undefined) return `unknown option ${typed} for "${command.name}" (see s3-orchestrator help ${command.name})`;
    if (spec.type === 'boolean' && token.value !== undefined) return `option ${typed} takes no value`;
    if (spec.type === 'string' && token.value === undefined) return `option ${typed} needs a value`;
    // parseArgs refuses `--note -x` as ambiguous: -x may be a forgotten value or the next option.
    if (spec.type === 'string' && !token.inlineValue && token.value?.startsWith('-')) {
      return `option ${typed} needs a value (for a value that starts with a dash, write ${typed}=${token.value})`;
    }
  }
  return undefined;
}

/** Which of two values was meant is a guess; say so instead of picking one. */
function repeatedValueOption(tokens: readonly Token[], argv: readonly string[], accepted: OptionTable): string | undefined {
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== 'option' || accepted[token.name]?.type !== 'string') continue;
    if (seen.has(token.name)) return spelledOption(argv[token.index] ?? token.rawName);
    seen.add(token.name);
  }
  return undefined;
}

/** The words after the command name, matched to its operands; a string is the usage error. */
function bindOperands(command: Command, words: readonly string[]): Record<string, string | undefined> | string {
  const operands: Record<string, string | undefined> = {};
  let next = 0;
  for (const operand of command.operands) {
    const value = operand.rest ? (words.length > next ? words.slice(next).join(' ') : undefined) : words[next];
    next = operand.rest ? words.length : next + 1;
    if (value === undefined && !operand.optional) return `${command.name} needs ${operand.name} (${operand.description})`;
    operands[operand.name] = value;
  }
  const extra = words[next];
  if (extra !== undefined) {
    const takes = command.operands.length === 0 ? 'it takes no arguments' : `it takes ${command.operands.map((o) => o.name).join(' ')}`;
    return `unexpected argument "${extra}" for "${command.name}" (${takes})`;
  }
  return operands;
}
