/** The fleet: the storage summary and one card per backend (quota, usage, breaker, state badges, drain progress). */
import { api, query } from './api.ts';
import { confirmAction } from './confirm.ts';
import { bar, bytes, count, duration, fill, h, percent, toneOf, when } from './dom.ts';
import { perform } from './page.ts';
import type { BackendView, DashboardView, DrainView } from './types.ts';

export function renderSummary(target: HTMLElement, view: DashboardView): void {
  const { storage, replication, cleanup_queue: cleanup } = view;
  const capped = (n: number) => (n >= replication.count_cap ? `${count(n)}+` : count(n));
  fill(
    target,
    card('Stored', bytes(storage.bytes_used), storage.bytes_limit > 0 ? `of ${bytes(storage.bytes_limit)} (${percent(storage.bytes_used, storage.bytes_limit)})` : 'no quota limit'),
    card('Copies', count(storage.copies), `${count(storage.multipart_uploads)} multipart uploads open`),
    card('Orphaned', bytes(storage.orphan_bytes), 'reserved until cleanup deletes them'),
    card(
      'Replication',
      `factor ${replication.factor}`,
      `${capped(replication.under_replicated)} under-replicated, ${capped(replication.over_replicated)} over-replicated`,
      replication.under_replicated > 0 ? 'warn' : undefined,
    ),
    card('Cleanup queue', count(cleanup.depth), `${count(cleanup.due)} due, ${count(cleanup.stuck)} stuck`, cleanup.stuck > 0 ? 'warn' : undefined),
    ...(view.warnings ?? []).map((w) => h('p', { class: 'card warn wide', role: 'note' }, w)),
  );
}

function card(title: string, value: string, detail: string, tone?: 'warn'): HTMLElement {
  return h('div', { class: `card${tone ? ` ${tone}` : ''}` }, h('h3', {}, title), h('p', { class: 'value' }, value), h('p', { class: 'detail' }, detail));
}

export function renderBackends(target: HTMLElement, view: DashboardView): void {
  fill(target, ...view.backends.map((backend) => backendCard(backend)));
}

/** The badges a backend wears: what keeps it out of placement, and whether its breaker is open. */
function badges(backend: BackendView): HTMLElement[] {
  const list: HTMLElement[] = [];
  const mode = backend.drain?.mode ?? backend.state;
  if (backend.state === 'draining' || mode === 'draining') list.push(h('span', { class: 'badge draining', 'data-badge': 'draining' }, 'Draining'));
  else if (backend.state === 'drained') list.push(h('span', { class: 'badge drained', 'data-badge': 'drained' }, 'Drained'));
  else if (backend.state === 'removed') list.push(h('span', { class: 'badge removed', 'data-badge': 'removed' }, 'Removed'));
  else if (backend.state === 'not-configured') list.push(h('span', { class: 'badge removed', 'data-badge': 'not-configured' }, 'Not configured'));
  if (backend.breaker.state === 'open') list.push(h('span', { class: 'badge unhealthy', 'data-badge': 'unhealthy' }, 'Unhealthy'));
  else if (backend.breaker.state === 'half-open') list.push(h('span', { class: 'badge recovering', 'data-badge': 'recovering' }, 'Recovering'));
  if (list.length === 0) list.push(h('span', { class: 'badge healthy', 'data-badge': 'active' }, 'Active'));
  return list;
}

function backendCard(backend: BackendView): HTMLElement {
  const limit = backend.bytes_limit ?? 0;
  const held = backend.bytes_used + backend.orphan_bytes;
  const titleId = `backend-${backend.name}`;
  return h(
    'article',
    { class: 'backend', 'aria-labelledby': titleId, 'data-backend': backend.name },
    h('header', {}, h('h3', { id: titleId }, backend.name), h('span', { class: 'badges' }, ...badges(backend))),
    h(
      'div',
      { class: 'quota' },
      limit > 0 ? bar(held, limit, `${backend.name} quota used`, toneOf(held, limit)) : null,
      h(
        'p',
        {},
        limit > 0 ? `${bytes(backend.bytes_used)} of ${bytes(limit)} (${percent(held, limit)})` : `${bytes(backend.bytes_used)} stored, no quota limit`,
        backend.orphan_bytes > 0 ? ` · ${bytes(backend.orphan_bytes)} orphaned` : '',
      ),
    ),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Copies'),
      h('dd', {}, count(backend.objects)),
      h('dt', {}, 'Multipart uploads'),
      h('dd', {}, count(backend.multipart_uploads)),
      h('dt', {}, 'Breaker'),
      h('dd', {}, backend.breaker.state, backend.breaker.consecutive_failures > 0 ? ` (${backend.breaker.consecutive_failures} failures)` : ''),
    ),
    backend.last_error ? h('p', { class: 'error-text' }, backend.last_error) : null,
    usage(backend),
    backend.drain ? drainProgress(backend.name, backend.drain) : null,
    actions(backend),
  );
}

function usage(backend: BackendView): HTMLElement {
  const u = backend.usage;
  const row = (label: string, used: number, limit: number, format: (n: number) => string) =>
    h(
      'div',
      { class: 'usage-row' },
      h('span', {}, label),
      limit > 0 ? bar(used, limit, `${backend.name} ${label} this month`, toneOf(used, limit)) : h('span', { class: 'muted' }, 'no limit'),
      h('span', {}, limit > 0 ? `${format(used)} / ${format(limit)}` : format(used)),
    );
  return h(
    'details',
    { class: 'usage' },
    h('summary', {}, 'This month’s usage'),
    row('API requests', u.api_requests, u.api_request_limit, count),
    row('Egress', u.egress_bytes, u.egress_byte_limit, bytes),
    row('Ingress', u.ingress_bytes, u.ingress_byte_limit, bytes),
  );
}

function drainProgress(name: string, drain: DrainView): HTMLElement {
  const total = drain.objects_moved + drain.copies_dropped + drain.objects_remaining;
  const moved = drain.objects_moved + drain.copies_dropped;
  const status = drain.active
    ? drain.waiting_for_space
      ? 'waiting for space on the other backends'
      : drain.eta_seconds !== null
        ? `about ${duration(drain.eta_seconds)} left`
        : 'starting'
    : drain.mode === 'drained'
      ? `done ${when(drain.completed_at)}`
      : drain.cancelled_at
        ? `cancelled ${when(drain.cancelled_at)}`
        : drain.mode;
  return h(
    'div',
    { class: 'drain', 'data-drain': drain.active ? 'active' : drain.mode },
    h('h4', {}, 'Drain'),
    bar(drain.active ? moved : total, Math.max(total, 1), `${name} drain progress`),
    h(
      'p',
      {},
      `${count(moved)} copies (${bytes(drain.bytes_moved)}) moved or dropped, ${count(drain.objects_remaining)} (${bytes(drain.bytes_remaining)}) remaining`,
      drain.failures > 0 ? `, ${count(drain.failures)} failed attempts` : '',
      ` · ${status}`,
    ),
    drain.last_error ? h('p', { class: 'error-text' }, `Last error: ${drain.last_error}`) : null,
  );
}

function actions(backend: BackendView): HTMLElement {
  const name = backend.name;
  const path = `/admin/api/backends/${encodeURIComponent(name)}`;
  const buttons: HTMLElement[] = [];
  const draining = backend.state === 'draining' || backend.drain?.active === true;
  if (backend.state !== 'not-configured' && !draining && backend.state !== 'drained' && backend.state !== 'removed') {
    const drain: HTMLButtonElement = h('button', {
      type: 'button',
      onclick: () =>
        void perform(drain, async () => {
          const ok = await confirmAction({
            title: `Drain ${name}?`,
            body: [
              `Every copy on ${name} (${count(backend.objects)} copies, ${bytes(backend.bytes_used)}) moves to the other backends, or is dropped where another copy exists. New writes stop going to ${name} at once.`,
              'The drain runs in the background and survives restarts; you can cancel it.',
            ],
            ok: 'Start the drain',
          });
          if (ok) await api('POST', `${path}/drain`);
        }),
    }, 'Drain…');
    buttons.push(drain);
  }
  if (draining) {
    const cancel: HTMLButtonElement = h('button', {
      type: 'button',
      onclick: () =>
        void perform(cancel, async () => {
          const ok = await confirmAction({ title: `Cancel the drain of ${name}?`, body: ['Copies already moved stay where they are; the backend takes new writes again.'], ok: 'Cancel the drain' });
          if (ok) await api('DELETE', `${path}/drain`);
        }),
    }, 'Cancel drain…');
    buttons.push(cancel);
  }
  if (!draining) {
    const remove: HTMLButtonElement = h('button', {
      type: 'button',
      class: 'danger',
      onclick: () => void perform(remove, () => removeBackend(name, path)),
    }, 'Remove…');
    buttons.push(remove);
  }
  return h('div', { class: 'actions' }, ...buttons);
}

interface PurgePreview {
  status: string;
  object_count: number;
  total_bytes: number;
  confirm_token: string;
  expires_in: number;
}

/** Shows what a purge would delete (the API's preview), then purges with its token once the name is typed. */
async function removeBackend(name: string, path: string): Promise<void> {
  const preview = await api<PurgePreview>('DELETE', `${path}${query({ purge: 'true' })}`);
  const ok = await confirmAction({
    title: `Remove ${name}?`,
    body: [
      preview.object_count > 0
        ? `${count(preview.object_count)} objects (${bytes(preview.total_bytes)}) tracked on ${name} will be DELETED from its storage, and its records dropped. Objects with no other copy are lost. Drain it first to keep them.`
        : `Nothing is tracked on ${name} any more: removing it only drops its records.`,
      `The confirmation is valid for ${preview.expires_in} s.`,
    ],
    ok: preview.object_count > 0 ? 'Delete and remove' : 'Remove',
    typed: name,
  });
  if (!ok) return;
  await api('DELETE', `${path}${query({ purge: 'true', confirm: preview.confirm_token })}`);
}
