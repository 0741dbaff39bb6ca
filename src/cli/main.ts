/** The `s3-orchestrator` command line. Each command prints for people, or JSON with --json. */
import { readFileSync } from 'node:fs';
import { checkConfig, formatProblems } from '../config/load.ts';
import { adminCommand } from './admin.ts';

const USAGE = `usage: s3-orchestrator <command> [options]

commands:
  config validate FILE   check a configuration file; prints every problem with its path
  admin status           per backend: bytes used and limit, orphaned bytes, objects, state
  admin log-level        the log level in effect; -set LEVEL changes it fleet-wide, --reset returns to the config
  help                   show this text

options:
  --json                 machine-readable output
  --url URL              (admin) the orchestrator; else S3O_URL, the CLI config file, http://127.0.0.1:8787
  --token TOKEN          (admin) the development admin token; else S3O_ADMIN_TOKEN or the CLI config file
  --access-client-id ID --access-client-secret SECRET
                         (admin) a Cloudflare Access service token; else CF_ACCESS_CLIENT_ID/_SECRET
  --vars FILE            (config validate) a dotenv-style file of VAR=value used for \${VAR} expansion;
                         without it, \${VAR} is taken from the environment`;

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const args = argv.filter((a) => a !== '--json');
  const [command, sub, ...rest] = args;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === 'config' && sub === 'validate') return configValidate(rest, json);
  if (command === 'admin') return adminCommand(sub, rest, json);
  console.error(`s3-orchestrator: unknown command "${[command, sub].filter(Boolean).join(' ')}"\n\n${USAGE}`);
  return 2;
}

function configValidate(args: string[], json: boolean): number {
  const varsAt = args.indexOf('--vars');
  const varsFile = varsAt >= 0 ? args[varsAt + 1] : undefined;
  const file = args.filter((_, i) => varsAt < 0 || (i !== varsAt && i !== varsAt + 1))[0];
  if (!file) {
    console.error('s3-orchestrator: config validate needs a FILE');
    return 2;
  }
  let text: string;
  let vars: Record<string, string | undefined> = process.env;
  try {
    text = readFileSync(file, 'utf8');
    if (varsFile) vars = parseDotenv(readFileSync(varsFile, 'utf8'));
  } catch (err) {
    console.error(`s3-orchestrator: cannot read ${err instanceof Error && 'path' in err ? String(err.path) : file}: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const report = checkConfig(text, vars);
  const valid = report.problems.length === 0;
  if (json) {
    console.log(JSON.stringify({ valid, problems: report.problems, unset_variables: report.unsetVariables }, null, 2));
    return valid ? 0 : 1;
  }
  if (report.unsetVariables.length > 0) {
    console.log(`${file}: not set here (the Worker must have them as vars or secrets):\n${formatProblems(report.unsetVariables)}`);
  }
  if (!valid) {
    console.error(`${file}: invalid, ${report.problems.length} problem(s)\n${formatProblems(report.problems)}`);
    return 1;
  }
  const c = report.config;
  console.log(c ? `${file}: valid (${c.buckets.length} bucket(s), ${c.backends.length} backend(s), routing ${c.routingStrategy})` : `${file}: valid`);
  return 0;
}

function parseDotenv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1]) vars[m[1]] = (m[2] ?? '').replace(/^"(.*)"$/, '$1');
  }
  return vars;
}
