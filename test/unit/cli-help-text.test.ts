/**
 * The CLI's command-table pieces that need no Node: the help text and the seed's single-dash spellings. The parser
 * itself uses node:util's parseArgs, which workerd does not implement ("node:util parseArgs is not implemented"),
 * so it is tested against the real table in test/integration/cli.test.ts, under Node.
 */
import { describe, expect, it } from 'vitest';
import { type Command, EVERY_COMMAND_OPTIONS, type OptionTable, REMOTE_OPTIONS } from '../../src/cli/command-table.ts';
import { commandHelp, fullHelp, optionLabel, synopsis } from '../../src/cli/help-text.ts';
import { spelledOption, withLongSpellings } from '../../src/cli/option-aliases.ts';

function command(name: string, remote: boolean, options: OptionTable = {}, operands: Command['operands'] = []): Command {
  return { name, summary: `what ${name} does`, operands, options, remote, execute: async () => 0 };
}

const TABLE: readonly Command[] = [
  command('files check', false, { vars: { type: 'string', value: 'FILE', description: 'variables from FILE' } }, [{ name: 'FILE', description: 'a file' }]),
  command('admin level', true, {
    set: { type: 'string', value: 'LEVEL', aliases: ['-set'], description: 'change it' },
    reset: { type: 'boolean', description: 'back to the default' },
  }),
  command('help', false, {}, [{ name: 'COMMAND', description: 'a command', optional: true, rest: true }]),
];

describe('the help text', () => {
  it('lists every command of the table with its operands, options and aliases', () => {
    const text = fullHelp(TABLE);
    for (const c of TABLE) {
      expect(text).toContain(`  ${synopsis(c)}`);
      expect(text).toContain(c.summary);
      for (const [name, spec] of Object.entries(c.options)) {
        expect(text).toContain(`      ${optionLabel(name, spec)}`);
        expect(text).toContain(spec.description);
      }
    }
    expect(text).toContain('  help [COMMAND]');
    expect(text).toContain('--set LEVEL, -set');
    expect(text).toContain('--help, -h');
    // The shared options once, naming the commands that do not take the connection options.
    for (const name of [...Object.keys(EVERY_COMMAND_OPTIONS), ...Object.keys(REMOTE_OPTIONS)]) {
      expect(text.split('\n').filter((line) => new RegExp(`^ {2}--${name}(?=[ ,]|$)`).test(line))).toHaveLength(1);
    }
    expect(text).toContain('options of the commands that call the orchestrator (all but files check, help):');
  });

  it('keeps every line within 116 columns, descriptions aligned', () => {
    const lines = fullHelp(TABLE).split('\n');
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(116);
    expect(lines).toContain(`  files check FILE${' '.repeat(33 - '  files check FILE'.length)}what files check does`);
  });

  it("gives one command's usage: its options, and the connection options only when it calls the orchestrator", () => {
    const [local, remote] = TABLE;
    const localText = commandHelp(local!);
    expect(localText.split('\n')[0]).toBe('usage: s3-orchestrator files check FILE [options]');
    expect(localText).toContain('--vars FILE');
    expect(localText).toContain('--json');
    expect(localText).not.toContain('--url');
    const remoteText = commandHelp(remote!);
    expect(remoteText).toContain('--set LEVEL, -set');
    expect(remoteText).toContain('--url URL');
    expect(remoteText).not.toContain('--vars');
  });
});

describe("the seed's single-dash spellings", () => {
  const options: OptionTable = { ...EVERY_COMMAND_OPTIONS, ...TABLE[1]!.options };

  it('become the long options, with or without =value', () => {
    expect(withLongSpellings(['admin', 'level', '-set', 'debug'], options)).toEqual(['admin', 'level', '--set', 'debug']);
    expect(withLongSpellings(['-set=debug', '-h'], options)).toEqual(['--set=debug', '--help']);
  });

  it('leave everything else as typed, one argument for one, and nothing after --', () => {
    const argv = ['--set', 'debug', '-frob', '-s', 'set', '--', '-set'];
    expect(withLongSpellings(argv, options)).toEqual(argv);
  });

  it('are quoted as typed in messages', () => {
    expect(spelledOption('-key=bucket/a=b')).toBe('-key');
    expect(spelledOption('--url')).toBe('--url');
  });
});
