/** `s3-orchestrator admin ...`: calls to the admin API, printed as tables (or JSON with --json). */
import { type Target, flagValue, resolveTarget } from './target.ts';

interface StatusBackend {
  name: string;
  bytes_used: number;
  bytes_limit: number;
  orphan_bytes: number;
  objects: number;
  state: string;
}

export async function adminCommand(sub: string | undefined, args: string[], json: boolean): Promise<number> {
  let target: Target;
  try {
    target = resolveTarget(args, process.env, process.cwd());
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  if (sub === 'status') {
    const body = await call(target, 'GET', '/admin/api/status');
    if (!body.ok) return fail(body.error);
    if (json) {
      console.log(JSON.stringify(body.value, null, 2));
      return 0;
    }
    const backends = (body.value as { backends?: StatusBackend[] }).backends ?? [];
    printTable(
      ['BACKEND', 'USED', 'LIMIT', 'ORPHANED', 'OBJECTS', 'STATE'],
      backends.map((b) => [b.name, bytes(b.bytes_used), b.bytes_limit === 0 ? 'unlimited' : bytes(b.bytes_limit), bytes(b.orphan_bytes), String(b.objects), b.state]),
    );
    return 0;
  }
  if (sub === 'log-level') {
    // The seed's spelling is `-set debug`; `--set debug` works too.
    const level = flagValue(args, '-set') ?? flagValue(args, '--set');
    const reset = args.includes('--reset');
    const body = reset
      ? await call(target, 'DELETE', '/admin/api/log-level')
      : level !== undefined
        ? await call(target, 'PUT', '/admin/api/log-level', { level })
        : await call(target, 'GET', '/admin/api/log-level');
    if (!body.ok) return fail(body.error);
    const value = body.value as { level?: string; source?: string; propagation_seconds?: number };
    if (json) console.log(JSON.stringify(value, null, 2));
    else if (level !== undefined || reset) console.log(`log level is now ${value.level} (${value.source}); every isolate applies it within ${value.propagation_seconds} s`);
    else console.log(`log level: ${value.level} (${value.source === 'runtime' ? 'set at runtime' : 'from the configuration'})`);
    return 0;
  }
  return fail(`unknown command "admin ${sub ?? ''}" (available: admin status, admin log-level [-set LEVEL | --reset])`, 2);
}

type CallResult = { ok: true; value: unknown } | { ok: false; error: string };

async function call(target: Target, method: string, path: string, body?: unknown): Promise<CallResult> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${path}`, {
      method,
      headers: body === undefined ? target.headers : { ...target.headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    return { ok: false, error: `cannot reach ${target.url} (${cause}); is the orchestrator running? (settings from ${target.source})` };
  }
  const text = await response.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: `${target.url} answered HTTP ${response.status} with something that is not the admin API's JSON` };
  }
  if (!response.ok) {
    const message = value && typeof value === 'object' && 'error' in value ? String(value.error) : text;
    const hint = response.status === 401 ? ' (give --token, S3O_ADMIN_TOKEN, or an Access service token)' : '';
    return { ok: false, error: `the server refused: ${message} (HTTP ${response.status})${hint}` };
  }
  return { ok: true, value };
}

function fail(message: string, code = 1): number {
  console.error(`s3-orchestrator: ${message}`);
  return code;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}
