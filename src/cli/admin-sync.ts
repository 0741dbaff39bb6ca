/**
 * `s3-orchestrator admin sync`: imports what a backend holds without a record, calling the Worker page after page
 * (each call answers within the CLI's timeout) with a running count, and ends with `{imported, skipped, bytes}`.
 */
import { call } from './api-call.ts';
import { durationSeconds } from './duration.ts';
import { bytes, endProgress, fail, printJson, printProgress } from './output.ts';
import type { Target } from './target.ts';

interface SyncAnswer {
  listed: number;
  imported: number;
  bytes: number;
  failed: number;
  skipped: Record<string, number>;
  next: string | null;
  errors: string[];
}

export interface SyncOptions {
  backend: string | undefined;
  bucket: string | undefined;
  prefix: string | undefined;
  dryRun: boolean;
  adoptForeign: boolean;
  minAge: string | undefined;
  json: boolean;
}

export async function sync(target: Target, options: SyncOptions): Promise<number> {
  if (!options.backend || !options.bucket) return fail('admin sync needs --backend BACKEND and --bucket BUCKET', 2);
  let minAgeSeconds: number | undefined;
  if (options.minAge !== undefined) {
    minAgeSeconds = durationSeconds(options.minAge);
    if (minAgeSeconds === undefined) return fail(`--min-age must be a duration such as 0, 90s, 15m or 1h, got ${JSON.stringify(options.minAge)}`, 2);
  }
  const total: SyncAnswer = { listed: 0, imported: 0, bytes: 0, failed: 0, skipped: {}, next: null, errors: [] };
  let after: string | null = null;
  do {
    const body = await call(target, 'POST', '/admin/api/sync', {
      backend: options.backend,
      bucket: options.bucket,
      prefix: options.prefix ?? '',
      dry_run: options.dryRun,
      adopt_foreign: options.adoptForeign,
      ...(minAgeSeconds === undefined ? {} : { min_age_seconds: minAgeSeconds }),
      after,
    });
    if (!body.ok) return fail(body.error);
    const page = body.value as SyncAnswer;
    total.listed += page.listed;
    total.imported += page.imported;
    total.bytes += page.bytes;
    total.failed += page.failed;
    for (const [reason, n] of Object.entries(page.skipped)) total.skipped[reason] = (total.skipped[reason] ?? 0) + n;
    total.errors.push(...page.errors);
    after = page.next;
    // The listing's length is not known ahead: the bar fills when it ends.
    if (!options.json) printProgress(after === null ? 1 : 0.5, `${total.listed} listed, ${total.imported} ${options.dryRun ? 'to import' : 'imported'} (${bytes(total.bytes)})${total.failed > 0 ? `, ${total.failed} failed` : ''}`);
  } while (after !== null);
  if (!options.json) endProgress();
  const skipped = Object.values(total.skipped).reduce((a, b) => a + b, 0);
  if (options.json) {
    printJson({ dry_run: options.dryRun, imported: total.imported, skipped, bytes: total.bytes, failed: total.failed, listed: total.listed, skipped_by_reason: total.skipped, errors: total.errors.slice(0, 20) });
  } else {
    const reasons = Object.entries(total.skipped).map(([reason, n]) => `${reason} ${n}`).join(', ');
    console.log(`${options.dryRun ? 'dry run: would import' : 'imported'} ${total.imported} objects (${bytes(total.bytes)}); skipped ${skipped}${reasons ? ` (${reasons})` : ''}${total.failed > 0 ? `; ${total.failed} failed` : ''}`);
    for (const e of total.errors.slice(0, 20)) console.log(`failed: ${e}`);
  }
  return total.failed > 0 ? 1 : 0;
}
