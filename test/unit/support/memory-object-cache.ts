/** An in-memory stand-in for the Cache API's object cache (domain tests; the integration tests use workerd's). */
import type { ObjectCache } from '../../../src/services/services.ts';

export interface MemoryObjectCache extends ObjectCache {
  entries: Map<string, { body: Uint8Array; headers: Headers }>;
}

export function createMemoryObjectCache(): MemoryObjectCache {
  const entries = new Map<string, { body: Uint8Array; headers: Headers }>();
  return {
    entries,
    async match(url, range) {
      const entry = entries.get(url);
      if (!entry) return undefined;
      if (!range) return new Response(entry.body.slice(), { status: 200, headers: entry.headers });
      const headers = new Headers(entry.headers);
      headers.set('content-length', String(range.end - range.start + 1));
      headers.set('content-range', `bytes ${range.start}-${range.end}/${entry.body.byteLength}`);
      return new Response(entry.body.slice(range.start, range.end + 1), { status: 206, headers });
    },
    async put(url, response) {
      const body = new Uint8Array(await response.arrayBuffer());
      entries.set(url, { body, headers: new Headers(response.headers) });
    },
    async delete(url) {
      return entries.delete(url);
    },
  };
}
