/**
 * The comparison reconcile and sync share: one page of a backend's listing set against what the database records
 * for the same range of physical keys. Every listed object is classified once, and every copy recorded in the
 * range but not listed is reported missing. Nothing here writes.
 */
import type { BackendObjectPage } from '../backends/client.ts';
import { type BackendKeyKind, backendKeyKind } from '../objects/physical-key.ts';
import type { Services } from '../services/services.ts';
import { deletesQueuedFor } from '../store/cleanup.ts';
import { recordedInRange, uploadKeysOn } from '../store/reconcile.ts';

export type ListedObject = BackendObjectPage['objects'][number];

/** Why a listed object is not an unrecorded copy, or what it is. */
export type Verdict =
  | 'recorded'
  /** A multipart upload in flight: its object appears at completion, before the record does. */
  | 'upload-in-flight'
  /** Garbage already queued for deletion (a delete or move whose backend call failed). */
  | 'delete-queued'
  /** Younger than the safety age: it may be a write whose record is not committed yet. */
  | 'recent'
  /** Not recorded: a copy in the orchestrator's layout, or a foreign object something else wrote. */
  | 'unrecorded';

export interface Classified {
  object: ListedObject;
  kind: BackendKeyKind;
  verdict: Verdict;
}

export interface ComparedPage {
  classified: Classified[];
  /** Copies recorded in the page's range (and older than the listing) whose bytes the backend did not list. */
  missing: { bucket: string; key: string; physicalKey: string; storedSize: number }[];
  /** Where the next page starts (the last key this page covers), or undefined when the listing is done. */
  next: string | undefined;
}

/**
 * Lists one page after `after` and compares it. When the page is cut short, the versions of the last client key
 * on it wait for the next page, so all versions of one key are always compared together.
 */
export async function comparePage(
  services: Services,
  input: { backend: string; prefix: string; after: string | undefined; pageSize: number; minAgeMs: number; listedAt: number },
): Promise<ComparedPage> {
  const db = services.db();
  const page = await services.backend(input.backend).listObjects(input.prefix, input.after, input.pageSize);
  let listed = page.objects;
  if (page.truncated) {
    const stem = (key: string) => key.slice(0, Math.max(0, key.lastIndexOf('~')));
    const last = listed[listed.length - 1];
    const held = last ? listed.filter((o) => stem(o.key) === stem(last.key) && stem(o.key) !== '') : [];
    if (held.length < listed.length) listed = listed.slice(0, listed.length - held.length);
  }
  const lastKey = listed[listed.length - 1]?.key;
  const next = page.truncated ? lastKey : undefined;
  const through = page.truncated ? lastKey : undefined;
  const [recorded, uploads, queued] = await Promise.all([
    recordedInRange(db, input.backend, input.after, through),
    uploadKeysOn(db, input.backend, listed.map((o) => o.key)),
    deletesQueuedFor(db, listed.map((o) => ({ backendName: input.backend, physicalKey: o.key }))),
  ]);
  const recordedKeys = new Set(recorded.map((r) => r.physicalKey));
  const listedKeys = new Set(listed.map((o) => o.key));
  const classified = listed.map((object): Classified => {
    const kind = backendKeyKind(object.key);
    const verdict: Verdict = recordedKeys.has(object.key)
      ? 'recorded'
      : uploads.has(object.key)
        ? 'upload-in-flight'
        : queued.has(`${input.backend}\n${object.key}`)
          ? 'delete-queued'
          : input.listedAt - object.lastModified < input.minAgeMs
            ? 'recent'
            : 'unrecorded';
    return { object, kind, verdict };
  });
  const inPrefix = (key: string) => key.startsWith(input.prefix);
  const missing = recorded
    .filter((r) => inPrefix(r.physicalKey) && !listedKeys.has(r.physicalKey) && r.createdAt.getTime() < input.listedAt)
    .map(({ bucket, key, physicalKey, storedSize }) => ({ bucket, key, physicalKey, storedSize }));
  return { classified, missing, next };
}
