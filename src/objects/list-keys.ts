/**
 * Listing from the database in byte order with S3's delimiter grouping: keys that share the part of their name up
 * to the first delimiter after the prefix collapse into one common prefix, which counts once against max-keys.
 */
import type { Services } from '../services/services.ts';
import { type ListedObject, listObjectPage } from '../store/objects.ts';

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

const PAGE_SIZE = 1000;
/** Bounds the work of one listing request however many keys a common prefix swallows. */
const MAX_PAGES = 100;

export async function listKeys(services: Services, query: ListQuery): Promise<ListResult> {
  const result: ListResult = { contents: [], commonPrefixes: [], isTruncated: false, lastEntry: undefined };
  if (query.maxKeys === 0) return result;
  let after = query.after;
  let atLeast = query.skipPrefix === undefined ? undefined : successor(query.skipPrefix);
  let lastPrefix = query.skipPrefix;
  for (let page = 0; page < MAX_PAGES; page++) {
    const rows = await listObjectPage(services.db(), { bucket: query.bucket, prefix: query.prefix, after, atLeast, limit: PAGE_SIZE });
    atLeast = undefined;
    let jumped = false;
    for (const row of rows) {
      const group = commonPrefixOf(row.key, query.prefix, query.delimiter);
      if (group !== undefined && group === lastPrefix) continue;
      if (result.contents.length + result.commonPrefixes.length === query.maxKeys) {
        result.isTruncated = true;
        return result;
      }
      if (group === undefined) {
        result.contents.push(row);
        result.lastEntry = row.key;
        after = row.key;
        continue;
      }
      result.commonPrefixes.push(group);
      result.lastEntry = group;
      lastPrefix = group;
      // Jump past every key under this prefix instead of reading them all.
      const next = successor(group);
      if (next !== undefined) {
        after = group;
        atLeast = next;
        jumped = true;
        break;
      }
      after = row.key;
    }
    if (!jumped && rows.length < PAGE_SIZE) return result;
  }
  // Out of page budget: report truncation so the client continues from lastEntry.
  result.isTruncated = true;
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
