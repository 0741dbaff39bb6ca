/**
 * `admin scrub [--batch-size N]`: one scrub pass now. `admin backfill-checksums [--batch-size N]`: pages through
 * every object without a content digest (keyset, one page per request), showing progress on stderr, and ends with
 * the summary {processed, filled, skipped, failed}.
 */
import { call } from './api-call.ts';
import { fail, printJson } from './output.ts';
import type { Target } from './target.ts';

interface ScrubReport {
  status: 'ok' | 'skipped';
  reason?: string;
  checked: number;
  mismatches: number;
  dropped: number;
  skipped: number;
  errors: number;
  more?: boolean;
}

export async function scrub(target: Target, batchSize: string | undefined, json: boolean): Promise<number> {
  const body = await call(target, 'POST', `/admin/api/scrub${batchQuery(batchSize)}`);
  if (!body.ok) return fail(body.error);
  const r = body.value as ScrubReport;
  if (json) printJson(r);
  else if (r.status === 'skipped') console.log(`skipped: ${r.reason ?? ''}`);
  else {
    const kept = r.mismatches - r.dropped;
    console.log(`checked ${r.checked} copies: ${r.mismatches} did not match (${r.dropped} dropped for the replicator to replace${kept > 0 ? `, ${kept} kept: the object's only copy, see the logs` : ''}), ${r.skipped} skipped (unreadable now), ${r.errors} errors`);
    if (r.dropped > 0) console.log('run `s3-orchestrator admin replicate` to make the replacement copies now');
  }
  return r.status === 'ok' && r.mismatches + r.errors > 0 ? 1 : 0;
}

interface BackfillReport {
  processed: number;
  filled: number;
  skipped: number;
  failed: number;
  next: { bucket: string; key: string } | null;
}

export async function backfillChecksums(target: Target, batchSize: string | undefined, json: boolean): Promise<number> {
  const total = { processed: 0, filled: 0, skipped: 0, failed: 0 };
  let after: BackfillReport['next'] = null;
  for (;;) {
    const cursor = after ? `&after_bucket=${encodeURIComponent(after.bucket)}&after_key=${encodeURIComponent(after.key)}` : '';
    const body = await call(target, 'POST', `/admin/api/backfill-checksums?batch_size=${encodeURIComponent(batchSize ?? '100')}${cursor}`);
    if (!body.ok) {
      if (total.processed > 0) process.stderr.write('\n');
      return fail(body.error);
    }
    const page = body.value as BackfillReport;
    total.processed += page.processed;
    total.filled += page.filled;
    total.skipped += page.skipped;
    total.failed += page.failed;
    const where = page.next ? ` (at ${page.next.bucket}/${page.next.key})` : '';
    const line = `${total.processed} objects: ${total.filled} filled, ${total.skipped} skipped, ${total.failed} failed${where}`;
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${line}`);
    else process.stderr.write(`${line}\n`);
    if (!page.next) break;
    after = page.next;
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (json) printJson(total);
  else console.log(`backfill complete: ${total.processed} processed, ${total.filled} filled, ${total.skipped} skipped, ${total.failed} failed${total.failed > 0 ? ' (no copy could be read, or none matched its record; see the logs)' : ''}`);
  return total.failed > 0 ? 1 : 0;
}

function batchQuery(batchSize: string | undefined): string {
  return batchSize === undefined ? '' : `?batch_size=${encodeURIComponent(batchSize)}`;
}
