/**
 * Jobs: what runs or ran (drains, the bulk encryption jobs, rebalance, reconcile, lifecycle, the multipart GC,
 * replication, scrub) with progress bars, the buttons that start one, and the cleanup queue (stuck items first).
 */
import { api } from './api.ts';
import { confirmAction } from './confirm.ts';
import { bar, bytes, count, fill, h, when } from './dom.ts';
import { perform, refreshNow } from './page.ts';
import type { BulkJobView, DashboardView, LeaseView } from './types.ts';

/**
 * Jobs this page drives itself, call after call (rebalance, sync, a scrub pass): shown among the running jobs with
 * their progress; `total` undefined draws an indeterminate bar (a sync cannot know how much a backend holds).
 */
interface PageJob {
  title: string;
  status: 'running' | 'complete' | 'failed';
  done: number;
  total: number | undefined;
  detail: string;
}
const pageJobs = new Map<string, PageJob>();

function track(name: string, job: PageJob): PageJob {
  pageJobs.set(name, job);
  refreshNow();
  return job;
}

/** Runs a page-driven job, marking it failed (and passing the error on) when a call fails. */
async function tracked(job: PageJob, run: () => Promise<void>): Promise<void> {
  try {
    await run();
    job.status = 'complete';
  } catch (err) {
    job.status = 'failed';
    job.detail = `${job.detail} · ${err instanceof Error ? err.message : String(err)}`;
    throw err;
  }
}

export function renderJobs(target: HTMLElement, view: DashboardView): void {
  const rows: HTMLElement[] = [];
  for (const backend of view.backends) {
    const drain = backend.drain;
    if (!drain?.active) continue;
    const moved = drain.objects_moved + drain.copies_dropped;
    rows.push(jobRow(`Drain of ${backend.name}`, 'running', moved, moved + drain.objects_remaining, `${count(moved)} moved, ${count(drain.objects_remaining)} remaining`));
  }
  for (const job of view.jobs.bulk) rows.push(bulkRow(job));
  for (const job of pageJobs.values()) rows.push(jobRow(job.title, job.status, job.done, job.total, job.detail));
  const leased: [string, LeaseView, string][] = [
    ['Rebalance', view.jobs.rebalance, totals(view.jobs.rebalance, ['moved', 'failed', 'bytes_moved'])],
    ['Replication', view.jobs.replication, totals(view.jobs.replication, ['copies_created', 'copies_removed', 'failures'])],
    ['Scrub', view.jobs.scrub, totals(view.jobs.scrub, ['checked', 'mismatches', 'dropped'])],
    ['Reconcile', view.jobs.reconcile, totals(view.jobs.reconcile, ['last_missing', 'last_orphans', 'last_foreign'])],
    ['Lifecycle', view.jobs.lifecycle, totals(view.jobs.lifecycle, ['deleted', 'failed'])],
    ['Stale multipart GC', view.jobs.multipart_gc, totals(view.jobs.multipart_gc, ['aborted'])],
  ];
  const table = h(
    'table',
    { class: 'jobs' },
    h('caption', {}, 'Scheduled jobs'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Job'), h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Last run'), h('th', { scope: 'col' }, 'Totals'))),
    h(
      'tbody',
      {},
      ...leased.map(([name, lease, summary]) =>
        h('tr', {}, h('th', { scope: 'row' }, name), h('td', {}, lease.running ? 'running' : lease.more_pending ? 'more pending' : 'idle'), h('td', {}, when(lease.last_run_at)), h('td', {}, summary)),
      ),
    ),
  );
  fill(target, rows.length > 0 ? h('div', { class: 'running' }, ...rows) : h('p', { class: 'muted' }, 'No drain or bulk job is running.'), h('div', { class: 'scroll' }, table));
}

function totals(lease: LeaseView, names: string[]): string {
  const shown = names.filter((n) => lease.totals[n] !== undefined).map((n) => `${n.replace(/_/g, ' ')} ${n.includes('bytes') ? bytes(lease.totals[n]!) : count(lease.totals[n]!)}`);
  return shown.length > 0 ? shown.join(', ') : '–';
}

function bulkRow(job: BulkJobView): HTMLElement {
  const done = (job.encrypted ?? job.decrypted ?? job.rotated ?? 0) + job.failed + job.skipped;
  const title = `${job.kind} ${job.status === 'running' ? '' : `(${when(job.finished_at ?? job.started_at)})`}`;
  return jobRow(title, job.status, done, job.total, `${count(done)} of ${count(job.total)} copies, ${count(job.failed)} failed, ${bytes(job.bytes)}${job.last_error ? ` · ${job.last_error}` : ''}`);
}

function jobRow(title: string, status: string, done: number, total: number | undefined, detail: string): HTMLElement {
  const progress =
    total === undefined && status === 'running'
      ? h('progress', { class: 'bar', 'aria-label': `${title} progress` })
      : bar(status === 'running' ? done : Math.max(done, total ?? done), Math.max(total ?? done, 1), `${title} progress`);
  return h(
    'div',
    { class: 'job', 'data-status': status },
    h('h4', {}, title, ' ', h('span', { class: `badge ${status === 'running' ? 'draining' : status === 'complete' ? 'healthy' : 'unhealthy'}` }, status)),
    progress,
    h('p', {}, detail),
  );
}

export function renderJobActions(target: HTMLElement, view: () => DashboardView | undefined): void {
  const button = (label: string, action: (self: HTMLButtonElement) => Promise<void>, tone = '') => {
    const self: HTMLButtonElement = h('button', { type: 'button', class: tone, onclick: () => void perform(self, () => action(self)) }, label);
    return self;
  };
  fill(
    target,
    button('Run replication', async () => {
      const run = await api<{ status: string; copies_created: number; copies_removed?: number; reason?: string }>('POST', '/admin/api/replicate');
      if (run.status === 'skipped') throw new Error(`Replication skipped: ${run.reason ?? 'nothing to do'}`);
    }),
    button('Clean excess copies…', async () => {
      const pending = await api<{ factor: number; pending: number }>('GET', '/admin/api/over-replication');
      if (pending.pending === 0) throw new Error('No object has more copies than the replication factor.');
      const ok = await confirmAction({ title: 'Remove excess copies?', body: [`${count(pending.pending)} objects have more than ${pending.factor} copies. The extra copies are deleted.`], ok: 'Remove excess copies' });
      if (ok) await api('POST', '/admin/api/over-replication');
    }),
    button('Rebalance…', rebalance),
    button('Scrub now', async () => {
      const job = track('scrub', { title: 'Scrub pass', status: 'running', done: 0, total: undefined, detail: 'reading copies and comparing their digests' });
      await tracked(job, async () => {
        const run = await api<{ status: string; checked: number; mismatches: number; dropped: number; skipped: number; reason?: string }>('POST', '/admin/api/scrub');
        job.done = run.checked;
        job.detail = run.status === 'skipped' ? `skipped: ${run.reason ?? ''}` : `${count(run.checked)} copies checked, ${count(run.mismatches)} mismatches, ${count(run.dropped)} dropped, ${count(run.skipped)} unreadable now`;
      });
    }),
    button('Sync a backend…', async () => sync(view())),
    button('Encrypt existing…', async () => bulk('encrypt-existing', 'Encrypt every plaintext copy with the primary key?')),
    button('Decrypt existing…', async () => bulk('decrypt-existing', 'Decrypt every encrypted copy back to plaintext?'), 'danger'),
    button('Rotate key…', async () => bulk('rotate-encryption-key', 'Re-wrap every data key with the primary key?')),
  );
}

async function bulk(kind: string, question: string): Promise<void> {
  const ok = await confirmAction({ title: question, body: ['The job runs in the background on the jobs queue; its progress shows here.'], ok: 'Start' });
  if (ok) await api('POST', `/admin/api/${kind}`);
}

interface RebalancePlanView {
  strategy: string;
  imbalance: number;
  threshold: number;
  moves: number;
  bytes: number;
  skip?: string;
}

async function rebalance(): Promise<void> {
  const { plan } = await api<{ plan: RebalancePlanView }>('GET', '/admin/api/rebalance');
  if (plan.skip || plan.moves === 0) throw new Error(`Nothing to rebalance (${plan.skip ?? 'no moves'}; imbalance ${(plan.imbalance * 100).toFixed(1)}%, threshold ${(plan.threshold * 100).toFixed(1)}%).`);
  const ok = await confirmAction({
    title: 'Rebalance now?',
    body: [`Strategy ${plan.strategy}: ${count(plan.moves)} copies (${bytes(plan.bytes)}) move to even out an imbalance of ${(plan.imbalance * 100).toFixed(1)}%.`],
    ok: 'Rebalance',
  });
  if (!ok) return;
  const job = track('rebalance', { title: `Rebalance (${plan.strategy})`, status: 'running', done: 0, total: plan.moves, detail: 'starting' });
  let moved = 0;
  let failed = 0;
  let bytesMoved = 0;
  await tracked(job, async () => {
    // Each call answers within seconds; ask again while the pass has planned moves left.
    for (let call = 0; call < 1000; call++) {
      const run = await api<{ status: string; moved?: number; failed?: number; skipped?: number; bytes_moved?: number; left?: number; reason?: string }>('POST', '/admin/api/rebalance');
      moved += run.moved ?? 0;
      failed += run.failed ?? 0;
      bytesMoved += run.bytes_moved ?? 0;
      job.done += (run.moved ?? 0) + (run.failed ?? 0) + (run.skipped ?? 0);
      job.detail = `${count(moved)} copies (${bytes(bytesMoved)}) moved, ${count(failed)} failed${run.status === 'skipped' ? ` · ${run.reason ?? 'skipped'}` : ''}`;
      refreshNow();
      if (run.status === 'skipped' || !run.left) return;
    }
  });
}

async function sync(view: DashboardView | undefined): Promise<void> {
  if (!view) return;
  const backend = h('select', { id: 'sync-backend' }, ...view.backends.filter((b) => b.state !== 'not-configured').map((b) => h('option', { value: b.name }, b.name)));
  const bucket = h('input', { id: 'sync-bucket', required: true, autocomplete: 'off' });
  const prefix = h('input', { id: 'sync-prefix', autocomplete: 'off' });
  const dryRun = h('input', { id: 'sync-dry-run', type: 'checkbox', checked: true });
  const ok = await confirmAction({
    title: 'Sync a backend',
    body: [
      'Records objects a backend holds without a record (a restore, a migration). A dry run only counts them.',
      h('label', {}, 'Backend ', backend),
      h('label', {}, 'Bucket ', bucket),
      h('label', {}, 'Key prefix ', prefix),
      h('label', { class: 'inline' }, dryRun, ' Dry run'),
    ],
    ok: 'Sync',
  });
  if (!ok) return;
  const totals = { listed: 0, imported: 0, skipped: 0, failed: 0 };
  const job = track('sync', { title: `Sync of ${backend.value} into ${bucket.value}${dryRun.checked ? ' (dry run)' : ''}`, status: 'running', done: 0, total: undefined, detail: 'listing' });
  let after: string | null = null;
  await tracked(job, async () => {
    for (let call = 0; call < 100_000; call++) {
      const report: { listed: number; imported: number; failed: number; skipped: Record<string, number>; next: string | null } = await api('POST', '/admin/api/sync', {
        backend: backend.value,
        bucket: bucket.value,
        prefix: prefix.value,
        dry_run: dryRun.checked,
        after,
      });
      totals.listed += report.listed;
      totals.imported += report.imported;
      totals.failed += report.failed;
      totals.skipped += Object.values(report.skipped).reduce((a, b) => a + b, 0);
      job.done = totals.listed;
      job.detail = `${count(totals.listed)} listed, ${count(totals.imported)} imported, ${count(totals.skipped)} skipped, ${count(totals.failed)} failed`;
      refreshNow();
      after = report.next;
      if (after === null) break;
    }
  });
}

export function renderCleanup(target: HTMLElement, view: DashboardView): void {
  const queue = view.cleanup_queue;
  if (queue.depth === 0) {
    fill(target, h('p', { class: 'muted' }, 'Empty: every replaced or failed copy has been deleted.'));
    return;
  }
  fill(
    target,
    h('p', {}, `${count(queue.depth)} waiting, ${count(queue.due)} due now, ${count(queue.stuck)} stuck (${queue.max_attempts} attempts or more).`),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ...['Backend', 'Physical key', 'Reason', 'Size', 'Attempts', 'Next try', 'Last error'].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          {},
          ...queue.items.map((item) =>
            h(
              'tr',
              { class: item.stuck ? 'stuck' : '' },
              h('td', {}, item.backend),
              h('td', { class: 'key' }, item.physical_key),
              h('td', {}, item.reason),
              h('td', {}, bytes(item.size)),
              h('td', {}, item.stuck ? `${item.attempts} (stuck)` : String(item.attempts)),
              h('td', {}, when(item.next_retry)),
              h('td', { class: 'error-text' }, item.last_error ?? ''),
            ),
          ),
        ),
      ),
    ),
  );
}
