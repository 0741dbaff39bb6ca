/** `admin drain`, `admin drain-status [--watch]` and `admin drain-cancel`: a backend's drain, through its admin route. */
import type { DrainReport } from '../backends/backend-state.ts';
import { call } from './api-call.ts';
import { bytes, endProgress, fail, printJson, printProgress } from './output.ts';
import type { Target } from './target.ts';

/** GET /admin/api/backends/NAME/drain: the backend's name and its drain report. */
type DrainStatus = DrainReport & { backend: string };

function drainPath(backend: string): string {
  return `/admin/api/backends/${encodeURIComponent(backend)}/drain`;
}

/** Starts the drain (asking again while it drains retries at once), or with `cancel` stops it. */
export async function startOrCancelDrain(target: Target, backend: string, cancel: boolean, json: boolean): Promise<number> {
  const body = await call(target, cancel ? 'DELETE' : 'POST', drainPath(backend));
  if (!body.ok) return fail(body.error);
  const value = body.value as { status: string; backend: string };
  if (json) printJson(value);
  else console.log(`${value.backend}: ${value.status}${cancel ? '' : ` (follow it with: s3-orchestrator admin drain-status ${value.backend} --watch)`}`);
  return 0;
}

/** What is left and what has moved; `watch` follows it until it ends, or until `stuckAfter` seconds pass without progress. */
export async function drainStatus(target: Target, backend: string, watch: boolean, stuckAfter: string | undefined, json: boolean): Promise<number> {
  if (!watch) return showDrain(target, drainPath(backend), json);
  const stuckText = stuckAfter ?? String(DEFAULT_STUCK_AFTER_SECONDS);
  const seconds = /^\d+$/.test(stuckText) ? Number(stuckText) : NaN;
  if (!(seconds >= 1)) return fail(`--stuck-after takes a number of seconds (at least 1), got "${stuckText}"`, 2);
  return watchDrain(target, drainPath(backend), json, seconds * 1000);
}

async function showDrain(target: Target, path: string, json: boolean): Promise<number> {
  const body = await call(target, 'GET', path);
  if (!body.ok) return fail(body.error);
  if (json) {
    printJson(body.value);
    return 0;
  }
  const s = body.value as DrainStatus;
  const lines = [
    `${s.backend}: ${s.mode}${s.waiting_for_space ? ' (waiting: no other backend has room)' : ''}`,
    `  remaining  ${s.objects_remaining} objects, ${bytes(s.bytes_remaining)}${s.deletes_queued > 0 ? `; ${s.deletes_queued} deletes on it still queued` : ''}`,
    `  moved      ${s.objects_moved} objects, ${bytes(s.bytes_moved)} copied (${s.copies_dropped} had a copy elsewhere)`,
    s.failed_attempts_retried
      ? `  failures   0 (${s.failed_attempts_retried} failed attempts were retried until they succeeded)`
      : `  failures   ${s.failures}${s.last_error ? ` (last: ${s.last_error} at ${s.last_error_at})` : ''}`,
  ];
  console.log(lines.join('\n'));
  return 0;
}

/** How long --watch waits for a drain that makes no progress before it gives up with exit 3. */
const DEFAULT_STUCK_AFTER_SECONDS = 600;

/** What a drain that is not moving objects is waiting for, as the watch line's note. */
function waitingFor(s: DrainStatus): string {
  const parts: string[] = [];
  if (s.waiting_for_space) parts.push('room on another backend');
  if (s.objects_remaining === 0 && s.deletes_queued > 0) parts.push(`${s.deletes_queued} queued deletes on ${s.backend}`);
  const last = s.last_error ? ` (last error: ${s.last_error})` : '';
  return parts.length > 0 ? ` waiting for ${parts.join(' and ')}${last}` : s.failures > 0 ? ` ${s.failures} failures${last}` : '';
}

/**
 * Follows a drain with a progress bar until it is no longer active (exit 0 when drained); one JSON line per poll
 * with --json. A drain that changes nothing for `stuckAfterMs` ends the watch with what it waits for, exit 3.
 */
async function watchDrain(target: Target, path: string, json: boolean, stuckAfterMs: number, intervalMs = 2000): Promise<number> {
  let total: number | undefined;
  let lastChange = { at: Date.now(), state: '' };
  for (;;) {
    const body = await call(target, 'GET', path);
    if (!body.ok) return fail(body.error);
    const s = body.value as DrainStatus;
    total ??= s.objects_remaining + s.objects_moved;
    if (json) console.log(JSON.stringify(s));
    else {
      printProgress(total === 0 ? 1 : s.objects_moved / total, `${s.objects_moved} moved, ${s.objects_remaining} left (${bytes(s.bytes_remaining)})${waitingFor(s)}`);
    }
    if (!s.active) {
      if (!json) endProgress();
      if (!json) console.log(`${s.backend}: ${s.mode}`);
      return s.mode === 'drained' ? 0 : 1;
    }
    const state = JSON.stringify([s.objects_moved, s.objects_remaining, s.deletes_queued, s.copies_dropped]);
    if (state !== lastChange.state) lastChange = { at: Date.now(), state };
    else if (Date.now() - lastChange.at >= stuckAfterMs) {
      if (!json) endProgress();
      const why = waitingFor(s).trim() || 'no progress';
      process.stderr.write(`${s.backend}: the drain made no progress for ${Math.round(stuckAfterMs / 1000)} s (${why}); it goes on in the background\n`);
      return 3;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, stuckAfterMs)));
  }
}
