/** The object browser's listings: the configured buckets with their totals, and one page of a prefix's tree. */
import { bucketTotals, treePage } from '../store/tree.ts';
import type { AdminContext } from './api.ts';
import { json } from './http.ts';
import { configuredBucket, prefixParam } from './object-address.ts';
import { answeringRefusals } from './refusals.ts';

const DEFAULT_PAGE = 200;
const MAX_PAGE = 500;

/** Every configured bucket, in configuration order, with its objects and client bytes (0 for an empty one). */
export function bucketsRoute(context: AdminContext): Promise<Response> {
  return answeringRefusals(async () => {
    const names = context.active.config.buckets.map((b) => b.name);
    const totals = new Map((await bucketTotals(context.services.db(), names)).map((t) => [t.bucket, t]));
    return json(200, { buckets: names.map((name) => ({ name, objects: totals.get(name)?.objects ?? 0, bytes: totals.get(name)?.bytes ?? 0 })) });
  });
}

/**
 * `?bucket=B&prefix=P&after=A&limit=N`: the entries directly under P, directories (names ending in '/', with the
 * count, bytes and newest write of every key below) and objects paged together in byte order. `next_after` is
 * the `after` of the next page, null on the last.
 */
export function treeRoute(request: Request, context: AdminContext): Promise<Response> {
  return answeringRefusals(async () => {
    const params = new URL(request.url).searchParams;
    const bucket = configuredBucket(params.get('bucket'), context);
    if (bucket instanceof Response) return bucket;
    const prefix = prefixParam(params.get('prefix') ?? '');
    if (prefix instanceof Response) return prefix;
    const after = params.get('after') ?? '';
    if (!isEntryName(after)) return json(400, { error: 'after must be an entry name a page answered (a "/" only at its end)' });
    const limit = pageLimit(params.get('limit'));
    if (limit === undefined) return json(400, { error: `limit must be a whole number from 1 to ${MAX_PAGE}` });
    const page = await treePage(context.services.db(), { bucket, prefix, after, limit });
    return json(200, {
      bucket,
      prefix,
      entries: page.entries.map((e) => ({
        name: e.name,
        kind: e.kind,
        objects: e.objects,
        bytes: e.bytes,
        last_modified: e.lastModified,
        ...(e.kind === 'object' ? { size: e.bytes, etag: e.etag } : {}),
      })),
      next_after: page.more ? (page.entries.at(-1)?.name ?? null) : null,
    });
  });
}

/** '' (the first page), or a name a page can hold: a '/' ends a directory's and appears nowhere else. */
function isEntryName(after: string): boolean {
  const slash = after.indexOf('/');
  return !after.includes('\u0000') && (slash < 0 || slash === after.length - 1);
}

function pageLimit(text: string | null): number | undefined {
  if (text === null || text === '') return DEFAULT_PAGE;
  const limit = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  return limit >= 1 && limit <= MAX_PAGE ? limit : undefined;
}
