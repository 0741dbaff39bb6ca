/**
 * `admin encrypt-existing`, `admin decrypt-existing`, `admin rotate-encryption-key [--old-key-id ID]` and
 * `admin encryption`: the bulk jobs run on the Worker's queue; the command starts one (or reports the one running)
 * and, with --wait, follows it with a progress bar until it is complete. --json prints the seed's shape.
 */
import { call } from './api-call.ts';
import { bytes, endProgress, fail, printJson, printProgress, printTable } from './output.ts';
import type { Target } from './target.ts';

export type BulkKind = 'encrypt-existing' | 'decrypt-existing' | 'rotate-encryption-key';

interface JobReport {
  status: 'running' | 'complete';
  encrypted?: number;
  decrypted?: number;
  rotated?: number;
  failed: number;
  total: number;
  skipped: number;
  bytes: number;
  job: string;
  already_running?: boolean;
  last_error?: string;
}

const DONE_WORD: Record<BulkKind, 'encrypted' | 'decrypted' | 'rotated'> = {
  'encrypt-existing': 'encrypted',
  'decrypt-existing': 'decrypted',
  'rotate-encryption-key': 'rotated',
};

/** How often --wait asks. */
const POLL_MS = 1000;

export async function runBulkJob(target: Target, kind: BulkKind, options: { oldKeyId?: string | undefined; wait: boolean; json: boolean }): Promise<number> {
  if (options.oldKeyId !== undefined && options.oldKeyId.trim() === '') return fail('--old-key-id needs a key id, e.g. config-1 or k-0123456789abcdef (see admin encryption)', 2);
  const started = await call(target, 'POST', `/admin/api/${kind}`, options.oldKeyId === undefined ? {} : { old_key_id: options.oldKeyId });
  if (!started.ok) return fail(started.error);
  let report = started.value as JobReport;
  if (!options.json) {
    const what = report.already_running ? `a ${kind} job is already running (${report.job}); following it` : `${kind} started (${report.job})`;
    console.log(options.wait ? what : `${what}; follow it with: s3-orchestrator admin ${kind} --wait`);
  }
  if (!options.wait) {
    show(kind, report, options.json);
    return 0;
  }
  for (;;) {
    if (!options.json) progress(kind, report);
    if (report.status === 'complete') break;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    const body = await call(target, 'GET', `/admin/api/${kind}`);
    if (!body.ok) return fail(body.error);
    report = body.value as JobReport;
  }
  if (!options.json) endProgress();
  show(kind, report, options.json);
  return report.failed > 0 ? 1 : 0;
}

function show(kind: BulkKind, report: JobReport, json: boolean): void {
  const word = DONE_WORD[kind];
  if (json) {
    printJson({
      status: report.status,
      [word]: report[word] ?? 0,
      failed: report.failed,
      total: report.total,
      skipped: report.skipped,
      bytes: report.bytes,
      job: report.job,
      ...(report.last_error ? { last_error: report.last_error } : {}),
    });
    return;
  }
  const skipped = report.skipped > 0 ? `, ${report.skipped} skipped (already done, or changed by a client meanwhile)` : '';
  console.log(`${report.status}: ${report[word] ?? 0} ${word}, ${report.failed} failed of ${report.total}${skipped}; ${bytes(report.bytes)}`);
  if (report.failed > 0) {
    console.log(`failed copies are logged one by one${report.last_error ? ` (last: ${report.last_error})` : ''}; run the command again to retry them`);
  }
}

function progress(kind: BulkKind, report: JobReport): void {
  const done = (report[DONE_WORD[kind]] ?? 0) + report.failed + report.skipped;
  printProgress(report.total === 0 ? 1 : done / report.total, `${done}/${report.total} copies, ${bytes(report.bytes)}${report.failed > 0 ? `, ${report.failed} failed` : ''}`);
}

interface EncryptionReport {
  enabled: boolean;
  chunk_size: number;
  keys: { id: string; alias: string; primary: boolean; copies: number }[];
  unknown_keys: { id: string; copies: number }[];
  plaintext_copies: number;
  running_jobs: JobReport[];
}

export async function encryptionStatus(target: Target, json: boolean): Promise<number> {
  const body = await call(target, 'GET', '/admin/api/encryption');
  if (!body.ok) return fail(body.error);
  if (json) {
    printJson(body.value);
    return 0;
  }
  const r = body.value as EncryptionReport;
  console.log(`encryption of new objects: ${r.enabled ? `on (${bytes(r.chunk_size)} chunks)` : 'off'}`);
  if (r.keys.length === 0) console.log('no key is configured');
  else printTable(['KEY', 'ALIAS', 'ROLE', 'COPIES'], r.keys.map((k) => [k.id, k.alias, k.primary ? 'primary' : 'previous', String(k.copies)]));
  for (const k of r.unknown_keys) console.log(`warning: ${k.copies} copies are wrapped by ${k.id}, which is not configured: they answer 503 until it is back in previous_keys`);
  console.log(`plaintext copies: ${r.plaintext_copies}`);
  for (const j of r.running_jobs) console.log(`running: ${j.job}`);
  return 0;
}
