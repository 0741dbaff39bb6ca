/**
 * The fleet's last admin actions (GET /admin/api/events, the ring `admin events` reads), newest first: who did
 * what, with which parameters, and how it ended. Actors and parameters are text like every other name here.
 */
import { api } from './api.ts';
import { fill, h, when } from './dom.ts';
import type { AdminEventPage } from './types.ts';

const SHOWN = 15;

export async function loadActivity(target: HTMLElement): Promise<void> {
  const page = await api<AdminEventPage>('GET', `/admin/api/events?limit=${SHOWN}`);
  renderActivity(target, page);
}

function renderActivity(target: HTMLElement, page: AdminEventPage): void {
  if (page.events.length === 0) {
    fill(target, h('p', { class: 'muted' }, 'No admin actions yet.'));
    return;
  }
  const rows = [...page.events].reverse().map((e) =>
    h(
      'tr',
      { class: e.outcome === 'success' ? '' : 'stuck' },
      h('td', {}, when(e.time)),
      h('td', {}, e.actor),
      h('td', {}, e.event),
      h('td', { class: 'key' }, Object.entries(e.params).map(([name, value]) => `${name}=${Array.isArray(value) ? value.join(',') : String(value)}`).join(' ')),
      h('td', {}, `${e.status} ${e.outcome}`),
    ),
  );
  fill(
    target,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ...['When', 'Who', 'Action', 'Parameters', 'Result'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, ...rows),
      ),
    ),
  );
}
