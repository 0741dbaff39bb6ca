/** The active configuration version and its history; any version can be compared with the one before it. */
import { api } from './api.ts';
import { diffLines } from './diff.ts';
import { fill, h, when } from './dom.ts';
import { perform } from './page.ts';
import type { ConfigVersionDocument, DashboardView } from './types.ts';

let shownVersions = '';

export function renderConfig(target: HTMLElement, view: DashboardView): void {
  const { config } = view;
  // The history changes rarely: rebuild only when it did, so an open diff survives the poll.
  const signature = JSON.stringify(config);
  if (signature === shownVersions) return;
  shownVersions = signature;
  const diff = h('div', { class: 'diff-view', id: 'config-diff' });
  if (config.versions.length === 0) {
    fill(target, h('p', { class: 'muted' }, 'No version has been pushed yet: the deployed document is in effect (`config push` starts the history).'));
    return;
  }
  fill(
    target,
    h('p', {}, `Active version: ${config.active_version ?? 'the deployed document'}`),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, ...['Version', 'When', 'Source', 'By', 'Note', ''].map((t) => h('th', { scope: 'col' }, t)))),
        h(
          'tbody',
          {},
          ...config.versions.map((v) => {
            const compare: HTMLButtonElement = h('button', { type: 'button', class: 'link', onclick: () => void perform(compare, () => showDiff(diff, v.version)) }, v.version > 1 ? `Diff with ${v.version - 1}` : 'Show');
            return h(
              'tr',
              { class: v.version === config.active_version ? 'active' : '' },
              h('td', {}, String(v.version), v.version === config.active_version ? ' (active)' : ''),
              h('td', {}, when(v.created_at)),
              h('td', {}, v.source),
              h('td', {}, v.by),
              h('td', {}, v.note ?? ''),
              h('td', {}, compare),
            );
          }),
        ),
      ),
    ),
    diff,
  );
}

async function showDiff(target: HTMLElement, version: number): Promise<void> {
  const after = await api<ConfigVersionDocument>('GET', `/admin/api/config/versions/${version}`);
  const before = version > 1 ? await api<ConfigVersionDocument>('GET', `/admin/api/config/versions/${version - 1}`) : undefined;
  const lines = diffLines(before?.yaml ?? '', after.yaml);
  const changed = lines.filter((l) => l.kind !== 'same').length;
  fill(
    target,
    h('h3', {}, before ? `Version ${version - 1} → ${version} (${changed} lines changed)` : `Version ${version}`),
    h('pre', { class: 'diff', 'aria-label': 'configuration diff' }, ...lines.map((l) => h('span', { class: l.kind }, `${l.kind === 'added' ? '+ ' : l.kind === 'removed' ? '- ' : '  '}${l.text}\n`))),
  );
}
