/**
 * The object browser: a bucket's keys as a tree of prefixes, loaded a page at a time (directories and objects
 * page together), an object's copies and their backends, upload, download, delete and delete-prefix.
 */
import { api, query } from './api.ts';
import { confirmAction } from './confirm.ts';
import { append, bytes, count, fill, h, when } from './dom.ts';
import { perform, showProblem } from './page.ts';
import type { BucketView, ObjectLocations, TreeEntry, TreePage } from './types.ts';
import { uploadFile } from './upload.ts';

const PAGE = 100;

interface Place {
  bucket: string;
  prefix: string;
}

let root: HTMLElement;
let place: Place | undefined;

export function startBrowser(target: HTMLElement): void {
  root = target;
  void showBuckets();
}

async function showBuckets(): Promise<void> {
  place = undefined;
  const { buckets } = await api<{ buckets: BucketView[] }>('GET', '/admin/api/buckets');
  fill(
    root,
    h('nav', { class: 'crumbs', 'aria-label': 'Location' }, h('span', {}, 'Buckets')),
    h(
      'ul',
      { class: 'bucket-list' },
      ...buckets.map((b) =>
        h('li', {}, h('button', { type: 'button', class: 'link', 'data-bucket': b.name, onclick: () => void open({ bucket: b.name, prefix: '' }) }, b.name), ` ${count(b.objects)} objects, ${bytes(b.bytes)}`),
      ),
    ),
  );
}

async function open(target: Place): Promise<void> {
  place = target;
  const rows = h('tbody', {});
  const more = h('div', { class: 'more' });
  const uploads = h('div', { class: 'uploads', 'aria-live': 'polite' });
  const details = h('div', { class: 'details', id: 'object-details' });
  const picker = h('input', { type: 'file', multiple: true, id: 'upload-files', class: 'visually-hidden' });
  const reload = async () => {
    fill(rows);
    fill(details);
    await loadPage(target, rows, more, details, undefined);
  };
  picker.addEventListener('change', () => void upload(target, picker, uploads, reload));
  fill(
    root,
    crumbs(target),
    h(
      'div',
      { class: 'actions' },
      h('label', { class: 'button', for: 'upload-files' }, 'Upload files'),
      picker,
      h('button', { type: 'button', onclick: () => void reload() }, 'Refresh'),
      deletePrefixButton(target),
    ),
    uploads,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { class: 'tree' },
        h('thead', {}, h('tr', {}, ...['Name', 'Objects', 'Size', 'Last modified', ''].map((t) => h('th', { scope: 'col' }, t)))),
        rows,
      ),
    ),
    more,
    details,
  );
  await loadPage(target, rows, more, details, undefined);
}

function crumbs(target: Place): HTMLElement {
  const parts = target.prefix.split('/').slice(0, -1);
  const nav = h('nav', { class: 'crumbs', 'aria-label': 'Location' }, h('button', { type: 'button', class: 'link', onclick: () => void showBuckets() }, 'Buckets'));
  append(nav, ' / ', h('button', { type: 'button', class: 'link', onclick: () => void open({ bucket: target.bucket, prefix: '' }) }, target.bucket));
  parts.forEach((part, i) => {
    const prefix = `${parts.slice(0, i + 1).join('/')}/`;
    append(nav, ' / ', h('button', { type: 'button', class: 'link', onclick: () => void open({ bucket: target.bucket, prefix }) }, part));
  });
  return nav;
}

async function loadPage(target: Place, rows: HTMLElement, more: HTMLElement, details: HTMLElement, after: string | undefined): Promise<void> {
  const page = await api<TreePage>('GET', `/admin/api/tree${query({ bucket: target.bucket, prefix: target.prefix, after, limit: PAGE })}`);
  if (place !== target) return;
  if (page.entries.length === 0 && after === undefined) append(rows, h('tr', {}, h('td', { colspan: 5, class: 'muted' }, 'No objects here.')));
  for (const entry of page.entries) append(rows, entryRow(target, entry, details));
  fill(more);
  if (page.next_after !== null) {
    const next = page.next_after;
    const button: HTMLButtonElement = h('button', { type: 'button', onclick: () => void perform(button, () => loadPage(target, rows, more, details, next)) }, 'Load more');
    append(more, button);
  }
}

function entryRow(target: Place, entry: TreeEntry, details: HTMLElement): HTMLElement {
  const key = target.prefix + entry.name;
  const name =
    entry.kind === 'dir'
      ? h('button', { type: 'button', class: 'link dir', 'data-prefix': key, onclick: () => void open({ bucket: target.bucket, prefix: key }) }, entry.name)
      : h('button', { type: 'button', class: 'link', 'data-key': key, onclick: () => void showObject(target, key, details) }, entry.name);
  return h(
    'tr',
    { 'data-kind': entry.kind },
    h('td', { class: 'key' }, name),
    h('td', {}, entry.kind === 'dir' ? count(entry.objects) : ''),
    h('td', {}, bytes(entry.bytes)),
    h('td', {}, when(entry.last_modified)),
    h('td', {}, entry.kind === 'object' ? downloadLink(target.bucket, key, entry.name) : ''),
  );
}

function downloadLink(bucket: string, key: string, name: string): HTMLElement {
  return h('a', { href: `/admin/api/objects${query({ bucket, key })}`, download: name.replace(/[/\\]/g, '_') || 'object', 'data-download': key }, 'Download');
}

async function showObject(target: Place, key: string, details: HTMLElement): Promise<void> {
  const object = await api<ObjectLocations>('GET', `/admin/api/object-locations${query({ key: `${target.bucket}/${key}` })}`);
  const remove: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      onclick: () =>
        void perform(remove, async () => {
          const ok = await confirmAction({ title: 'Delete this object?', body: [`${target.bucket}/${key} (${bytes(object.size)}) and all its copies are deleted.`], ok: 'Delete' });
          if (!ok) return;
          await api('DELETE', `/admin/api/objects${query({ bucket: target.bucket, key })}`);
          await open(target);
        }),
    },
    'Delete…',
  );
  fill(
    details,
    h('h3', {}, key),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Size'),
      h('dd', {}, bytes(object.size)),
      h('dt', {}, 'ETag'),
      h('dd', { class: 'key' }, object.etag),
      h('dt', {}, 'Version'),
      h('dd', { class: 'key' }, object.version),
      h('dt', {}, 'Last modified'),
      h('dd', {}, when(object.last_modified)),
    ),
    h(
      'table',
      { class: 'copies' },
      h('caption', {}, `${object.locations.length} ${object.locations.length === 1 ? 'copy' : 'copies'}`),
      h('thead', {}, h('tr', {}, ...['Backend', 'Physical key', 'Stored size', 'Written'].map((t) => h('th', { scope: 'col' }, t)))),
      h(
        'tbody',
        {},
        ...object.locations.map((l) =>
          h('tr', { 'data-copy': l.backend }, h('td', {}, l.backend, l.configured ? '' : ' (not configured)'), h('td', { class: 'key' }, l.physical_key), h('td', {}, bytes(l.stored_size)), h('td', {}, when(l.created_at))),
        ),
      ),
    ),
    h('div', { class: 'actions' }, downloadLink(target.bucket, key, key.split('/').pop() ?? key), remove),
  );
  details.scrollIntoView({ block: 'nearest' });
}

/** Uploads the chosen files one after another; the list of uploads stays while the listing is reloaded. */
async function upload(target: Place, picker: HTMLInputElement, list: HTMLElement, reload: () => Promise<void>): Promise<void> {
  const files = [...(picker.files ?? [])];
  picker.value = '';
  for (const file of files) {
    const key = target.prefix + file.name;
    const progress = h('progress', { value: 0, max: Math.max(file.size, 1), 'aria-label': `upload of ${file.name}` });
    const status = h('span', {}, 'uploading');
    const row = h('p', { class: 'upload', 'data-upload': key }, `${file.name} (${bytes(file.size)}) `, progress, ' ', status);
    append(list, row);
    try {
      await uploadFile(target.bucket, key, file, (sent) => {
        progress.value = sent;
      });
      fill(status, 'done');
      row.dataset.state = 'done';
    } catch (err) {
      fill(status, `failed: ${err instanceof Error ? err.message : String(err)}`);
      row.dataset.state = 'failed';
      showProblem(`Uploading ${file.name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (place === target) await reload();
}

function deletePrefixButton(target: Place): HTMLButtonElement {
  const phrase = `${target.bucket}/${target.prefix}`;
  const button: HTMLButtonElement = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      onclick: () =>
        void perform(button, async () => {
          const ok = await confirmAction({
            title: target.prefix === '' ? `Delete everything in ${target.bucket}?` : `Delete everything under ${phrase}?`,
            body: ['Every object whose key starts with this prefix is deleted, with all its copies. This cannot be undone.'],
            ok: 'Delete',
            typed: phrase,
          });
          if (!ok) return;
          let deleted = 0;
          const shown = h('p', { role: 'status' }, 'Deleting…');
          append(root, shown);
          for (let call = 0; call < 100_000; call++) {
            const result = await api<{ deleted: number; failed: number; more: boolean }>('POST', '/admin/api/delete-prefix', { bucket: target.bucket, prefix: target.prefix, confirm: phrase });
            deleted += result.deleted;
            fill(shown, `Deleted ${count(deleted)} objects…`);
            if (result.failed > 0) throw new Error(`${result.failed} objects under ${phrase} could not be deleted; try again`);
            if (!result.more) break;
          }
          await open({ bucket: target.bucket, prefix: parentOf(target.prefix) });
        }),
    },
    target.prefix === '' ? 'Delete all…' : 'Delete prefix…',
  );
  return button;
}

function parentOf(prefix: string): string {
  const trimmed = prefix.slice(0, -1);
  const slash = trimmed.lastIndexOf('/');
  return slash < 0 ? '' : trimmed.slice(0, slash + 1);
}

