/**
 * `s3-orchestrator admin ...`: calls to the admin API, printed as tables (or JSON with --json). The drain commands
 * are in admin-drain.ts; commands.ts maps the command line onto these functions.
 */
import { call } from './api-call.ts';
import { bytes, fail, printJson, printTable } from './output.ts';
import type { Target } from './target.ts';

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

export async function status(target: Target, json: boolean): Promise<number> {
  const body = await call(target, 'GET', '/admin/api/status');
  if (!body.ok) return fail(body.error);
  if (json) {
    printJson(body.value);
    return 0;
  }
  const { backends = [], period = '', warnings = [], jobs = {} } = body.value as { backends?: StatusBackend[]; period?: string; warnings?: string[]; jobs?: Record<string, StatusJob> };
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
  for (const line of jobLines(jobs)) console.log(line);
  return 0;
}

interface StatusJob {
  last_run_at: string | null;
  more_pending: boolean;
  totals: Record<string, number>;
}

/** One line per background job that has run: when, and its totals (e.g. `lifecycle: last run ..., deleted 3`). */
function jobLines(jobs: Record<string, StatusJob>): string[] {
  return Object.entries(jobs)
    .filter(([, job]) => job.last_run_at)
    .map(([name, job]) => {
      const totals = Object.entries(job.totals).map(([key, value]) => `${key.replace(/_/g, ' ')} ${value}`);
      return `${name.replace(/_/g, ' ')}: last run ${job.last_run_at}${job.more_pending ? ' (more pending)' : ''}; ${totals.join(', ')}`;
    });
}

export async function objectLocations(target: Target, key: string | undefined, json: boolean): Promise<number> {
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

/** Shows the level; `level` sets it fleet-wide, `reset` returns to the configuration's. */
export async function logLevel(target: Target, level: string | undefined, reset: boolean, json: boolean): Promise<number> {
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

export async function replicate(target: Target, json: boolean): Promise<number> {
  const body = await call(target, 'POST', '/admin/api/replicate');
  if (!body.ok) return fail(body.error);
  const r = body.value as { status: string; reason?: string; copies_created: number; copies_removed?: number; failures?: number; more_pending?: boolean };
  if (json) printJson(r);
  else if (r.status === 'skipped') console.log(`replication skipped: ${r.reason}`);
  else console.log(`replication: ${r.copies_created} copies created, ${r.copies_removed ?? 0} excess copies removed, ${r.failures ?? 0} failures${r.more_pending ? '; more objects wait for the next run' : ''}`);
  return 0;
}

/** Counts the objects with more copies than the factor; `execute` removes the extras (up to `batchSize` objects). */
export async function overReplication(target: Target, execute: boolean, batchSize: string | undefined, json: boolean): Promise<number> {
  const path = `/admin/api/over-replication${batchSize !== undefined ? `?batch_size=${encodeURIComponent(batchSize)}` : ''}`;
  const body = await call(target, execute ? 'POST' : 'GET', path);
  if (!body.ok) return fail(body.error);
  const r = body.value as { factor: number; pending: number; copies_removed?: number };
  if (json) printJson(r);
  else if (execute) console.log(`removed ${r.copies_removed ?? 0} excess copies; ${r.pending} objects still have more than ${r.factor} copies`);
  else console.log(`${r.pending} objects have more than ${r.factor} copies${r.pending > 0 ? ' (remove the extras with --execute)' : ''}`);
  return 0;
}

/**
 * Without --purge: drops the records, objects stay on the backend. --purge alone: a preview. --purge --confirm:
 * fetches a confirmation token (valid 60 s, this backend only) and purges with it.
 */
export async function removeBackend(target: Target, backend: string, purge: boolean, confirm: boolean, json: boolean): Promise<number> {
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

export async function cleanupQueue(target: Target, json: boolean): Promise<number> {
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
