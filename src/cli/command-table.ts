/**
 * The shape of the CLI's command table (the table itself is commands.ts). The parser, the dispatch and the help
 * text all read the same entries, so a command or an option exists in one place. Pure: no Node imports, so the
 * help text can be unit-tested inside workerd.
 */

interface OptionBase {
  description: string;
  /** Other spellings of the option, e.g. the seed's single-dash `-set`; the long `--name` always works. */
  aliases?: readonly string[];
}
export interface StringOption extends OptionBase {
  type: 'string';
  /** The placeholder the help text shows for the value, e.g. LEVEL. */
  value: string;
}
export interface BooleanOption extends OptionBase {
  type: 'boolean';
}
export type OptionSpec = StringOption | BooleanOption;
/** Options by long name (`batch-size` is typed `--batch-size`). */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

export interface Operand {
  /** The placeholder people see, e.g. BACKEND; also the key the handler reads it by. */
  name: string;
  /** For "needs ..." messages. */
  description: string;
  optional?: boolean;
  /** Takes every remaining word, joined with spaces (`help admin drain`). */
  rest?: boolean;
}

/** What the parser hands a command: option values by long name, operands by their placeholder. */
export interface CommandInput {
  options: Readonly<Record<string, string | boolean | undefined>>;
  operands: Readonly<Record<string, string | undefined>>;
  json: boolean;
}

export interface Command {
  /** The words that name it, e.g. `admin drain-status`. */
  name: string;
  summary: string;
  operands: readonly Operand[];
  /** The command's own options; EVERY_COMMAND_OPTIONS and, when `remote`, REMOTE_OPTIONS come on top. */
  options: OptionTable;
  /** Calls the orchestrator's admin API, so it takes the connection options. */
  remote: boolean;
  execute(input: CommandInput): Promise<number>;
}

export const EVERY_COMMAND_OPTIONS = {
  json: { type: 'boolean', description: 'machine-readable output, errors included ({"error": ...})' },
  help: { type: 'boolean', aliases: ['-h'], description: 'the full help, or with a command only that command\'s' },
} as const satisfies OptionTable;

export const REMOTE_OPTIONS = {
  url: { type: 'string', value: 'URL', description: 'the orchestrator; else S3O_URL, the CLI config file, http://127.0.0.1:8787' },
  token: { type: 'string', value: 'TOKEN', description: 'the development admin token; else S3O_ADMIN_TOKEN or the CLI config file' },
  'access-client-id': { type: 'string', value: 'ID', description: 'a Cloudflare Access service token\'s id; else CF_ACCESS_CLIENT_ID' },
  'access-client-secret': { type: 'string', value: 'SECRET', description: 'and its secret; else CF_ACCESS_CLIENT_SECRET' },
} as const satisfies OptionTable;

/** Every option `command` accepts. */
export function optionsOf(command: Command): OptionTable {
  return { ...EVERY_COMMAND_OPTIONS, ...(command.remote ? REMOTE_OPTIONS : {}), ...command.options };
}

/** Typed views of CommandInput for handlers, derived from their entry's options and operands. */
export type OptionValues<O extends OptionTable> = {
  readonly [K in keyof O]?: O[K] extends StringOption ? string : O[K] extends BooleanOption ? boolean : string | boolean;
};
export type OperandValues<P extends readonly Operand[]> = {
  readonly [X in P[number] as X['name']]: X extends { optional: true } ? string | undefined : string;
};
