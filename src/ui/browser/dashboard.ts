/**
 * The dashboard's entry: polls GET /admin/api/dashboard (every 2 s while a drain or job runs, every 5 s otherwise,
 * and not at all while the tab is hidden) with the last admin actions, and redraws the overview; the object
 * browser loads on demand.
 */
import { loadActivity } from './activity.ts';
import { api } from './api.ts';
import { renderConfig } from './config-view.ts';
import { byId, fill, when } from './dom.ts';
import { startBrowser } from './objects.ts';
import { renderBackends, renderSummary } from './overview.ts';
import { onRefresh } from './page.ts';
import { renderCleanup, renderJobActions, renderJobs } from './jobs.ts';
import type { DashboardView } from './types.ts';

const BUSY_MS = 2000;
const IDLE_MS = 5000;
const FAILING_MS = 10_000;

let latest: DashboardView | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let inFlight = false;

async function poll(): Promise<void> {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  if (inFlight) return;
  inFlight = true;
  let next = IDLE_MS;
  try {
    const [view] = await Promise.all([api<DashboardView>('GET', '/admin/api/dashboard'), loadActivity(byId('activity'))]);
    latest = view;
    render(view);
    fill(byId('live'), `Live · updated ${when(view.generated_at)}`);
    byId('live').dataset.state = 'ok';
    if (busy(view)) next = BUSY_MS;
  } catch (err) {
    fill(byId('live'), `Not updating: ${err instanceof Error ? err.message : String(err)}`);
    byId('live').dataset.state = 'failing';
    next = FAILING_MS;
  } finally {
    inFlight = false;
  }
  if (document.visibilityState === 'visible') timer = setTimeout(() => void poll(), next);
}

function busy(view: DashboardView): boolean {
  return view.backends.some((b) => b.drain?.active) || view.jobs.bulk.some((j) => j.status === 'running') || view.jobs.rebalance.running;
}

function render(view: DashboardView): void {
  renderSummary(byId('summary'), view);
  renderBackends(byId('backends'), view);
  renderJobs(byId('job-list'), view);
  renderCleanup(byId('cleanup'), view);
  renderConfig(byId('config-view'), view);
}

async function signOut(): Promise<void> {
  await api('POST', '/admin/logout').catch(() => undefined);
  window.location.assign('/admin/');
}

function start(): void {
  onRefresh(() => void poll());
  renderJobActions(byId('job-actions'), () => latest);
  startBrowser(byId('browser'));
  byId('sign-out').addEventListener('click', () => void signOut());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void poll();
  });
  void poll();
}

start();
