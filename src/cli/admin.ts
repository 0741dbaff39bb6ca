/** `s3-orchestrator admin ...`: calls to the admin API, printed as tables (or JSON with --json). */
import type { DrainReport } from '../backends/backend-state.ts';
import { call } from './api-call.ts';
import { bytes, fail, printJson, printTable } from './output.ts';
import { type Target, flagValue, positionals, resolveTarget } from './target.ts';

interface StatusBackend {
  name: string;
  bytes_used: number;
  /** 0 = unlimited; null = no quota row (drained or removed: it takes nothing). */
  bytes_limit: number | null;
  orphan_bytes: number;
  objects: number;
  usage: { api_requests: number; api_request_limit: number; egress_bytes: number; egress_byte_limit: number; ingress_bytes: number; ingress_byte_limit: number };
  state: string;
  last_error?: string;
}

interface ObjectLocations {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  last_modified: string;
  locations: { backend: string; physical_key: string; stored_size: number; created_at: string; configured: boolean }[];
}

const COMMANDS =
  'admin status, admin object-locations -key BUCKET/KEY, admin log-level [-set LEVEL | --reset], admin drain BACKEND, admin drain-status BACKEND [--watch [--stuck-after SECONDS]], admin drain-cancel BACKEND, admin remove-backend BACKEND [--purge [--confirm]], admin cleanup-queue, admin replicate, admin over-replication [--execute] [--batch-size N]';

/** GET /admin/api/backends/NAME/drain: the backend's name and its drain report. */
type DrainStatus = DrainReport & { backend: string };

export async function adminCommand(sub: string | undefined, args: string[], json: boolean): Promise<number> {
  let target: Target;
  try {
    target = resolveTarget(args, process.env, process.cwd());
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
  if (sub === 'status') return status(target, json);
  if (sub === 'object-locations') return objectLocations(target, args, json);
  if (sub === 'log-level') return logLevel(target, args, json);
  if (sub === 'remove-backend') return removeBackend(target, args, json);
  if (sub === 'cleanup-queue') return cleanupQueue(target, json);
  if (sub === 'replicate') {
    const body = await call(target, 'POST', '/admin/api/replicate');
    if (!body.ok) return fail(body.error);
    const r = body.value as { status: string; reason?: string; copies_created: number; copies_removed?: number; failures?: number; more_pending?: boolean };
    if (json) printJson(r);
    else if (r.status === 'skipped') console.log(`replication skipped: ${r.reason}`);
    else console.log(`replication: ${r.copies_created} copies created, ${r.copies_removed ?? 0} excess copies removed, ${r.failures ?? 0} failures${r.more_pending ? '; more objects wait for the next run' : ''}`);
    return 0;
  }
  if (sub === 'over-replication') {
    const execute = args.includes('--execute');
    const size = flagValue(args, '--batch-size');
    const path = `/admin/api/over-replication${size !== undefined ? `?batch_size=${encodeURIComponent(size)}` : ''}`;
    const body = await call(target, execute ? 'POST' : 'GET', path);
    if (!body.ok) return fail(body.error);
    const r = body.value as { factor: number; pending: number; copies_removed?: number };
    if (json) printJson(r);
    else if (execute) console.log(`removed ${r.copies_removed ?? 0} excess copies; ${r.pending} objects still have more than ${r.factor} copies`);
    else console.log(`${r.pending} objects have more than ${r.factor} copies${r.pending > 0 ? ' (remove the extras with --execute)' : ''}`);
    return 0;
  }
  if (sub === 'drain' || sub === 'drain-status' || sub === 'drain-cancel') {
    const [backend] = positionals(args);
    if (!backend) return fail(`admin ${sub} needs a BACKEND name`, 2);
    const path = `/admin/api/backends/${encodeURIComponent(backend)}/drain`;
    if (sub === 'drain-status') {
      if (!args.includes('--watch')) return drainStatus(target, path, json);
      const stuckText = flagValue(args, '--stuck-after') ?? String(DEFAULT_STUCK_AFTER_SECONDS);
      const stuckAfter = /^\d+$/.test(stuckText) ? Number(stuckText) : NaN;
      if (!(stuckAfter >= 1)) return fail(`--stuck-after takes a number of seconds (at least 1), got "${stuckText}"`, 2);
      return watchDrain(target, path, json, stuckAfter * 1000);
    }
    const body = await call(target, sub === 'drain' ? 'POST' : 'DELETE', path);
    if (!body.ok) return fail(body.error);
    const value = body.value as { status: string; backend: string };
    if (json) printJson(value);
    else console.log(`${value.backend}: ${value.status}${sub === 'drain' ? ` (follow it with: s3-orchestrator admin drain-status ${value.backend} --watch)` : ''}`);
    return 0;
  }
  return fail(`unknown command "admin ${sub ?? ''}" (available: ${COMMANDS})`, 2);
}

async function status(target: Target, json: boolean): Promise<number> {
  const body = await call(target, 'GET', '/admin/api/status');
  if (!body.ok) return fail(body.error);
  if (json) {
    printJson(body.value);
    return 0;
  }
  const { backends = [], period = '', warnings = [] } = body.value as { backends?: StatusBackend[]; period?: string; warnings?: string[] };
  const ofLimit = (used: string, limit: number, show: (n: number) => string) => (limit === 0 ? used : `${used} / ${show(limit)}`);
  printTable(
    ['BACKEND', 'USED', 'LIMIT', 'ORPHANED', 'OBJECTS', `REQUESTS ${period}`, 'EGRESS', 'INGRESS', 'STATE'],
    backends.map((b) => [
      b.name,
      bytes(b.bytes_used),
      b.bytes_limit === null ? '-' : b.bytes_limit === 0 ? 'unlimited' : bytes(b.bytes_limit),
      bytes(b.orphan_bytes),
      String(b.objects),
      ofLimit(String(b.usage.api_requests), b.usage.api_request_limit, String),
      ofLimit(bytes(b.usage.egress_bytes), b.usage.egress_byte_limit, bytes),
      ofLimit(bytes(b.usage.ingress_bytes), b.usage.ingress_byte_limit, bytes),
      b.state,
    ]),
  );
  // Why a breaker is open (or counting failures), under the table so the columns stay narrow.
  for (const b of backends) if (b.last_error) console.log(`${b.name}: last error: ${b.last_error}`);
  for (const warning of warnings) console.log(`warning: ${warning}`);
  return 0;
}

/** The seed spells it `-key bucket/key`; `--key` works too. */
async function objectLocations(target: Target, args: string[], json: boolean): Promise<number> {
  const key = flagValue(args, '-key') ?? flagValue(args, '--key');
  if (!key) return fail('admin object-locations needs -key BUCKET/KEY', 2);
  const body = await call(target, 'GET', `/admin/api/object-locations?key=${encodeURIComponent(key)}`);
  if (!body.ok) return fail(body.error);
  if (json) {
    printJson(body.value);
    return 0;
  }
  const object = body.value as ObjectLocations;
  console.log(`${object.bucket}/${object.key}  ${bytes(object.size)}  etag ${object.etag}  modified ${object.last_modified}`);
  printTable(
    ['BACKEND', 'PHYSICAL KEY', 'STORED', 'CREATED'],
    object.locations.map((l) => [l.configured ? l.backend : `${l.backend} (not configured)`, l.physical_key, bytes(l.stored_size), l.created_at]),
  );
  return 0;
}

async function logLevel(target: Target, args: string[], json: boolean): Promise<number> {
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
  if (json) printJson(value);
  else if (level !== undefined || reset) console.log(`log level is now ${value.level} (${value.source}); every isolate applies it within ${value.propagation_seconds} s`);
  else console.log(`log level: ${value.level} (${value.source === 'runtime' ? 'set at runtime' : 'from the configuration'})`);
  return 0;
}

async function drainStatus(target: Target, path: string, json: boolean): Promise<number> {
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
      const done = total === 0 ? 1 : Math.min(1, s.objects_moved / total);
      const bar = '#'.repeat(Math.round(done * 30)).padEnd(30, '.');
      const line = `[${bar}] ${Math.round(done * 100)}% ${s.objects_moved} moved, ${s.objects_remaining} left (${bytes(s.bytes_remaining)})${waitingFor(s)}`;
      if (process.stdout.isTTY) process.stdout.write(`\r${line}`);
      else console.log(line);
    }
    if (!s.active) {
      if (!json && process.stdout.isTTY) process.stdout.write('\n');
      if (!json) console.log(`${s.backend}: ${s.mode}`);
      return s.mode === 'drained' ? 0 : 1;
    }
    const state = JSON.stringify([s.objects_moved, s.objects_remaining, s.deletes_queued, s.copies_dropped]);
    if (state !== lastChange.state) lastChange = { at: Date.now(), state };
    else if (Date.now() - lastChange.at >= stuckAfterMs) {
      if (!json && process.stdout.isTTY) process.stdout.write('\n');
      const why = waitingFor(s).trim() || 'no progress';
      process.stderr.write(`${s.backend}: the drain made no progress for ${Math.round(stuckAfterMs / 1000)} s (${why}); it goes on in the background\n`);
      return 3;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, stuckAfterMs)));
  }
}

/**
 * Without --purge: drops the records, objects stay on the backend. --purge alone: a preview. --purge --confirm:
 * fetches a confirmation token (valid 60 s, this backend only) and purges with it.
 */
async function removeBackend(target: Target, args: string[], json: boolean): Promise<number> {
  const [backend] = positionals(args);
  if (!backend) return fail('admin remove-backend needs a BACKEND name', 2);
  const purge = args.includes('--purge');
  const confirm = args.includes('--confirm');
  if (confirm && !purge) return fail('--confirm goes with --purge (remove-backend BACKEND --purge --confirm)', 2);
  const path = `/admin/api/backends/${encodeURIComponent(backend)}`;
  if (!purge) {
    const body = await call(target, 'DELETE', path);
    if (!body.ok) return fail(body.error);
    const value = body.value as { records_dropped: number; bytes_dropped: number };
    if (json) printJson(value);
    else console.log(`${backend}: removed; ${value.records_dropped} copy records (${bytes(value.bytes_dropped)}) dropped, the objects stay on its storage. Now take it out of the configuration and deploy.`);
    return 0;
  }
  const preview = await call(target, 'DELETE', `${path}?purge=true`);
  if (!preview.ok) return fail(preview.error);
  const plan = preview.value as { object_count: number; total_bytes: number; confirm_token: string; expires_in: number };
  if (!confirm) {
    if (json) printJson({ ...plan, confirm_token: undefined });
    else console.log(`${backend}: a purge would delete ${plan.object_count} objects (${bytes(plan.total_bytes)}) from its storage and drop its records. Nothing changed; add --confirm to do it.`);
    return 0;
  }
  const done = await call(target, 'DELETE', `${path}?purge=true&confirm=${encodeURIComponent(plan.confirm_token)}`);
  if (!done.ok) return fail(done.error);
  const value = done.value as { objects_deleted: number; delete_failures: number; records_dropped: number };
  if (json) printJson(value);
  else if (value.delete_failures === 0) console.log(`${backend}: purged; ${value.objects_deleted} objects deleted, ${value.records_dropped} records dropped.`);
  else {
    // Partly done is still done: say what succeeded before what did not.
    console.log(`${backend}: removed; ${value.records_dropped} records dropped and ${value.objects_deleted} objects deleted from its storage.`);
    console.log(`${value.delete_failures} of ${value.objects_deleted + value.delete_failures} deletes failed (see the Worker's log): those objects are still on the backend's storage, untracked.`);
  }
  return value.delete_failures > 0 ? 1 : 0;
}

interface CleanupItem {
  id: number;
  backend: string;
  physical_key: string;
  reason: string;
  size: number;
  attempts: number;
  next_retry: string;
  last_error: string | null;
}

async function cleanupQueue(target: Target, json: boolean): Promise<number> {
  const body = await call(target, 'GET', '/admin/api/cleanup-queue');
  if (!body.ok) return fail(body.error);
  if (json) {
    printJson(body.value);
    return 0;
  }
  const q = body.value as { depth: number; due: number; stuck: number; max_attempts: number; items: CleanupItem[] };
  console.log(`cleanup queue: ${q.depth} waiting, ${q.due} due now, ${q.stuck} stuck after ${q.max_attempts} attempts`);
  if (q.items.length > 0) {
    printTable(
      ['ID', 'BACKEND', 'PHYSICAL KEY', 'REASON', 'SIZE', 'ATTEMPTS', 'NEXT RETRY', 'LAST ERROR'],
      q.items.map((i) => [String(i.id), i.backend, i.physical_key, i.reason, bytes(i.size), String(i.attempts), i.attempts >= q.max_attempts ? 'never (stuck)' : i.next_retry, i.last_error ?? '']),
    );
  }
  return 0;
}
