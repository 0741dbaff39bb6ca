/**
 * `s3-orchestrator config ...`: validate a file locally, and manage the numbered versions the orchestrator keeps
 * in KV (push, show, diff, history, rollback). A file is always checked here first, so an invalid document never
 * leaves the machine.
 */
import { readFileSync } from 'node:fs';
import type { ConfigProblem } from '../config/fields.ts';
import { checkConfig, formatProblems } from '../config/load.ts';
import type { ConfigChange } from '../config/reload-classes.ts';
import { call, type CallResult } from './api-call.ts';
import { fail, printJson, printTable } from './output.ts';
import type { Target } from './target.ts';

interface VersionSummary {
  version: number;
  created_at: string;
  source: string;
  by: string;
  note?: string;
  rolled_back_from?: number;
}

interface ActivationBody {
  version: number;
  unchanged?: boolean;
  changes: ConfigChange[];
  requires_deploy: ConfigChange[];
  propagation_seconds?: number;
}

/** Checks FILE here, with `${VAR}`s from `varsFile` (dotenv style) or else from the environment. */
export function validate(file: string, varsFile: string | undefined, json: boolean): number {
  let text: string;
  let vars: Record<string, string | undefined> = process.env;
  try {
    text = readFileSync(file, 'utf8');
    if (varsFile) vars = parseDotenv(readFileSync(varsFile, 'utf8'));
  } catch (err) {
    return fail(readError(err, file), 2);
  }
  const report = checkConfig(text, vars);
  const valid = report.problems.length === 0;
  if (json) {
    printJson({ valid, problems: report.problems, unset_variables: report.unsetVariables });
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

/** Reads FILE and checks it here; `${VAR}`s this machine lacks are left for the Worker to resolve. */
function readChecked(file: string): { ok: true; text: string } | { ok: false; code: number } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, code: fail(readError(err, file), 2) };
  }
  const report = checkConfig(text, process.env);
  if (report.problems.length > 0) {
    console.error(`${file}: invalid, ${report.problems.length} problem(s); nothing was sent\n${formatProblems(report.problems)}`);
    return { ok: false, code: 1 };
  }
  return { ok: true, text };
}

/** Stores FILE as the next version and activates it; `note` goes with the version into the history. */
export async function push(target: Target, file: string, note: string | undefined, json: boolean): Promise<number> {
  const checked = readChecked(file);
  if (!checked.ok) return checked.code;
  const yaml = checked.text;
  const result = await call(target, 'POST', '/admin/api/config/versions', { yaml, ...(note ? { note } : {}) });
  return reportActivation(result, json);
}

export async function rollback(target: Target, n: string, json: boolean): Promise<number> {
  const version = Number(n);
  if (!n || !Number.isSafeInteger(version) || version < 1) return fail('config rollback needs a version number N (see config history)', 2);
  return reportActivation(await call(target, 'POST', '/admin/api/config/rollback', { version }), json);
}

function reportActivation(result: CallResult, json: boolean): number {
  if (!result.ok) return refused(result);
  const body = result.value as ActivationBody;
  if (json) {
    printJson(body);
    return 0;
  }
  if (body.unchanged) {
    console.log(`no change: version ${body.version} already holds this document`);
  } else {
    console.log(`version ${body.version} is active; every isolate applies its reloadable settings within ${body.propagation_seconds ?? 5} s (plus KV propagation in production)`);
    printChanges(body.changes.filter((c) => c.effect === 'reloadable'), 'no reloadable setting changed');
  }
  printRequiresDeploy(body.requires_deploy);
  return 0;
}

/** What pushing FILE would change, each field marked reloads or requires deploy. */
export async function diff(target: Target, file: string, json: boolean): Promise<number> {
  const checked = readChecked(file);
  if (!checked.ok) return checked.code;
  const result = await call(target, 'POST', '/admin/api/config/diff', { yaml: checked.text });
  if (!result.ok) return refused(result);
  const body = result.value as { base_version: number | null; changes: ConfigChange[]; requires_deploy: ConfigChange[] };
  if (json) {
    printJson(body);
    return 0;
  }
  const base = body.base_version === null ? 'the deployed document' : `version ${body.base_version}`;
  const all = [...body.changes, ...body.requires_deploy];
  if (all.length === 0) {
    console.log(`no differences from ${base}`);
    return 0;
  }
  console.log(`against ${base}:`);
  printChanges(all, '');
  return 0;
}

export async function show(target: Target, json: boolean): Promise<number> {
  const result = await call(target, 'GET', '/admin/api/config');
  if (!result.ok) return refused(result);
  const body = result.value as VersionSummary & { version: number | null; yaml: string; requires_deploy: ConfigChange[] };
  if (json) {
    printJson(body);
    return 0;
  }
  console.log(
    body.version === null
      ? '# the deployed document (no version pushed yet); secrets masked'
      : `# version ${body.version}: ${describeVersion(body)}; secrets masked`,
  );
  process.stdout.write(body.yaml.endsWith('\n') ? body.yaml : `${body.yaml}\n`);
  printRequiresDeploy(body.requires_deploy, '# ');
  return 0;
}

export async function history(target: Target, json: boolean): Promise<number> {
  const result = await call(target, 'GET', '/admin/api/config/versions');
  if (!result.ok) return refused(result);
  const body = result.value as { active_version: number | null; versions: VersionSummary[] };
  if (json) {
    printJson(body);
    return 0;
  }
  if (body.versions.length === 0) {
    console.log('no versions yet: the deployed document is in effect (push one with config push FILE)');
    return 0;
  }
  printTable(
    ['VERSION', 'CREATED', 'SOURCE', 'BY', 'NOTE'],
    body.versions.map((v) => [
      `${v.version}${v.version === body.active_version ? ' *' : ''}`,
      v.created_at,
      v.rolled_back_from !== undefined ? `rollback to ${v.rolled_back_from}` : v.source,
      v.by,
      v.note ?? '',
    ]),
  );
  console.log('(* active)');
  return 0;
}

function printChanges(changes: ConfigChange[], empty: string): void {
  if (changes.length === 0) {
    if (empty) console.log(empty);
    return;
  }
  printTable(
    ['FIELD', 'CHANGE', 'EFFECT'],
    changes.map((c) => [
      c.field,
      c.from !== undefined && c.to !== undefined ? `${c.from || '(none)'} -> ${c.to || '(none)'}` : c.change,
      c.effect === 'reloadable' ? 'reloads' : 'requires deploy',
    ]),
  );
}

function printRequiresDeploy(changes: ConfigChange[], prefix = ''): void {
  if (changes.length === 0) return;
  console.log(`${prefix}requires deploy to take effect (applied by the next npm run deploy with this document):`);
  for (const c of changes) console.log(`${prefix}  ${c.field} (${c.change})`);
}

function describeVersion(v: VersionSummary): string {
  const what = v.rolled_back_from !== undefined ? `rollback to ${v.rolled_back_from}` : v.source;
  return `${what} by ${v.by} at ${v.created_at}${v.note ? ` (${v.note})` : ''}`;
}

/** A refusal, with every problem the server listed on its own line. */
function refused(result: Extract<CallResult, { ok: false }>): number {
  const problems = (result.body as { problems?: ConfigProblem[] } | undefined)?.problems;
  if (!problems?.length) return fail(result.error);
  console.error(`s3-orchestrator: ${result.error}\n${formatProblems(problems)}`);
  return 1;
}

function readError(err: unknown, file: string): string {
  const path = err instanceof Error && 'path' in err ? String(err.path) : file;
  return `cannot read ${path}: ${err instanceof Error ? err.message : String(err)}`;
}

function parseDotenv(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1]) vars[m[1]] = (m[2] ?? '').replace(/^"(.*)"$/, '$1');
  }
  return vars;
}
