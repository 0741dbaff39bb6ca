/** The `s3-orchestrator` command line. Each command prints for people, or JSON with --json. */
import { adminCommand } from './admin.ts';
import { parseArguments } from './arguments.ts';
import { configCommand } from './config.ts';
import { fail, setJsonOutput } from './output.ts';

const USAGE = `usage: s3-orchestrator <command> [options]

commands:
  config validate FILE       check a configuration file here; prints every problem with its path
  config push FILE           validate FILE, store it as the next version and activate it; reloadable settings
                             apply fleet-wide within seconds, deploy-only ones are listed [--note TEXT]
  config show                the active version, secrets masked, and what waits for a deploy
  config diff FILE           what pushing FILE would change, each field marked reloads / requires deploy
  config history             every version, newest first
  config rollback N          activate version N's document again (as a new version)
  admin status               per backend: bytes used and limit, orphaned bytes, objects, state
  admin object-locations -key BUCKET/KEY
                             an object's record and the backends holding its copies
  admin log-level            the log level in effect; -set LEVEL changes it fleet-wide, --reset returns to the config
  admin drain BACKEND        stop placing copies on BACKEND and move its copies to the others (asking again
                             while it drains retries at once)
  admin drain-status BACKEND what is left and what has moved; --watch follows it with a progress bar
  admin drain-cancel BACKEND stop the drain (moved copies stay moved), or take a drained backend back
  admin cleanup-queue        deletes that failed and wait for a retry (stuck ones after 10 attempts first)
  admin replicate            run a replication cycle now
  admin over-replication     how many objects have more copies than the factor; --execute removes the extras
                             [--batch-size N]
  admin remove-backend BACKEND [--purge [--confirm]]
                             drop BACKEND's records (its objects stay on its storage); --purge previews
                             deleting them too, --purge --confirm does it
  help                       show this text

options (before or after the command; --name=value works too):
  --json                     machine-readable output, errors included ({"error": ...})
  --help                     this text
  --url URL                  the orchestrator; else S3O_URL, the CLI config file, http://127.0.0.1:8787
  --token TOKEN              the development admin token; else S3O_ADMIN_TOKEN or the CLI config file
  --access-client-id ID --access-client-secret SECRET
                             a Cloudflare Access service token; else CF_ACCESS_CLIENT_ID/_SECRET
  --vars FILE                (config validate) a dotenv-style file of VAR=value used for \${VAR} expansion;
                             without it, \${VAR} is taken from the environment`;

export async function main(argv: string[]): Promise<number> {
  const parsed = parseArguments(argv);
  setJsonOutput(parsed.json);
  if (!parsed.ok) return fail(parsed.error, 2);
  const [command, sub, ...rest] = parsed.positionals;
  // Commands read their options from the rest of the line, wherever the user typed them.
  const args = [...rest, ...parsed.options];
  if (command === undefined || command === 'help' || (parsed.help && (command === 'config' || command === 'admin'))) {
    console.log(USAGE);
    return command === undefined && !parsed.help ? 2 : 0;
  }
  if (parsed.help) {
    console.log(USAGE);
    return 0;
  }
  if (command === 'config') return configCommand(sub, args, parsed.json);
  if (command === 'admin') return adminCommand(sub, args, parsed.json);
  return fail(`unknown command "${[command, sub].filter(Boolean).join(' ')}" (see s3-orchestrator help)`, 2);
}
