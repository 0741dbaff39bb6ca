/** `s3-orchestrator help` and `--help`, written from the command table so they list exactly what the parser takes. */
import { type Command, EVERY_COMMAND_OPTIONS, type OptionSpec, type OptionTable, REMOTE_OPTIONS } from './command-table.ts';

/** Descriptions start at this column and wrap at WIDTH, as the hand-written text did. */
const COLUMN = 33;
const WIDTH = 116;

export function fullHelp(commands: readonly Command[]): string {
  const local = commands.filter((c) => !c.remote).map((c) => c.name);
  return [
    'usage: s3-orchestrator <command> [options]',
    '',
    'commands:',
    ...commands.flatMap((c) => [...row(`  ${synopsis(c)}`, c.summary), ...optionRows(c.options, '      ')]),
    '',
    'options of every command (before or after the command; --name=value works too):',
    ...optionRows(EVERY_COMMAND_OPTIONS, '  '),
    `options of the commands that call the orchestrator (all but ${local.join(', ')}):`,
    ...optionRows(REMOTE_OPTIONS, '  '),
  ].join('\n');
}

export function commandHelp(command: Command): string {
  return [
    `usage: s3-orchestrator ${synopsis(command)} [options]`,
    '',
    ...wrap(command.summary, WIDTH),
    '',
    'options:',
    ...optionRows(command.options, '  '),
    ...optionRows(EVERY_COMMAND_OPTIONS, '  '),
    ...(command.remote ? optionRows(REMOTE_OPTIONS, '  ') : []),
  ].join('\n');
}

/** `admin drain-status BACKEND`, `help [COMMAND]`. */
export function synopsis(command: Command): string {
  const operands = command.operands.map((o) => (o.optional ? `[${o.name}]` : o.name));
  return [command.name, ...operands].join(' ');
}

/** `--set LEVEL, -set`: the long spelling with its value, then the aliases. */
export function optionLabel(name: string, spec: OptionSpec): string {
  const long = spec.type === 'string' ? `--${name} ${spec.value}` : `--${name}`;
  return [long, ...(spec.aliases ?? [])].join(', ');
}

function optionRows(options: OptionTable, indent: string): string[] {
  return Object.entries(options).flatMap(([name, spec]) => row(`${indent}${optionLabel(name, spec)}`, spec.description));
}

/** A label and its wrapped description; a label too long for the column gets the description on the next line. */
function row(label: string, description: string): string[] {
  const lines = wrap(description, WIDTH - COLUMN).map((line) => `${' '.repeat(COLUMN)}${line}`);
  if (label.length <= COLUMN - 2 && lines[0] !== undefined) lines[0] = label.padEnd(COLUMN) + lines[0].slice(COLUMN);
  else lines.unshift(label);
  return lines;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}
