/**
 * Listing from the database in byte order with S3's delimiter grouping: keys that share the part of their name up
 * to the first delimiter after the prefix collapse into one common prefix, which counts once against max-keys.
 */
import type { Services } from '../services/services.ts';
import { type ListedObject, listEntryPage } from '../store/objects.ts';

export interface ListQuery {
  bucket: string;
  prefix: string;
  delimiter: string;
  maxKeys: number;
  /** Exclusive lower bound (start-after, marker, or a continuation token's position). */
  after: string;
  /** Set when resuming right after a common prefix, whose keys must not be returned again. */
  skipPrefix?: string | undefined;
}

export interface ListResult {
  contents: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned: where the next page starts. */
  lastEntry: string | undefined;
}

/**
 * One page, read in one statement (store/objects.ts listEntryPage): maxKeys entries and one more, which only says
 * whether the listing is truncated.
 */
export async function listKeys(services: Services, query: ListQuery): Promise<ListResult> {
  const result: ListResult = { contents: [], commonPrefixes: [], isTruncated: false, lastEntry: undefined };
  if (query.maxKeys === 0) return result;
  const limit = query.maxKeys + 1;
  const entries = await listEntryPage(services.db(), {
    bucket: query.bucket,
    prefix: query.prefix,
    delimiter: query.delimiter,
    after: query.after,
    atLeast: query.skipPrefix === undefined ? undefined : successor(query.skipPrefix),
    limit,
  });
  let lastPrefix = query.skipPrefix;
  for (const entry of entries) {
    const group = commonPrefixOf(entry.key, query.prefix, query.delimiter);
    // A group already reported (resuming after it, or one whose keys go on with U+10FFFF) is not reported again.
    if (group !== undefined && group === lastPrefix) continue;
    if (result.contents.length + result.commonPrefixes.length === query.maxKeys) {
      result.isTruncated = true;
      return result;
    }
    if (group === undefined) {
      result.contents.push({ key: entry.key, size: entry.size, etag: entry.etag, createdAt: entry.createdAt });
      result.lastEntry = entry.key;
    } else {
      result.commonPrefixes.push(group);
      result.lastEntry = group;
      lastPrefix = group;
    }
  }
  // The walk stopped at its limit with entries skipped as repeats: there may be more, so the client asks again.
  if (entries.length === limit) result.isTruncated = true;
  return result;
}

function commonPrefixOf(key: string, prefix: string, delimiter: string): string | undefined {
  if (!delimiter) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

/** The smallest string greater than every string starting with `text` (byte order), if one is easy to form. */
function successor(text: string): string | undefined {
  const codePoints = Array.from(text);
  const last = codePoints.pop();
  if (last === undefined) return undefined;
  const code = last.codePointAt(0) ?? 0;
  // Bumping into the surrogate range or past the last code point would not give valid text.
  if (code === 0xd7ff || code >= 0x10ffff) return undefined;
  return codePoints.join('') + String.fromCodePoint(code + 1);
}
