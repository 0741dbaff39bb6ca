/** The `s3-orchestrator` command line. Each command prints for people, or JSON with --json. */
import { parseCommandLine } from './command-line.ts';
import { COMMANDS } from './commands.ts';
import { commandHelp, fullHelp } from './help-text.ts';
import { fail, setJsonOutput } from './output.ts';

/** Exit status: 0 done, 1 refused or failed, 2 bad usage (3: a watched drain made no progress). */
export async function main(argv: string[]): Promise<number> {
  const line = parseCommandLine(argv, COMMANDS);
  setJsonOutput(line.json);
  if (line.kind === 'usage-error') return fail(line.message, 2);
  if (line.kind === 'help') {
    console.log(line.command ? commandHelp(line.command) : fullHelp(COMMANDS));
    return line.exitCode;
  }
  return line.command.execute(line.input);
}
