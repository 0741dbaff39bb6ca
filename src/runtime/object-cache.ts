/**
 * The edge cache's store: Cloudflare's Cache API, in a cache of its own so its entries never meet anything else
 * cached in the zone. It works on a custom domain; on `*.workers.dev` every match misses (Cloudflare's rule).
 */
import type { ObjectCache } from '../services/services.ts';

const CACHE_NAME = 's3o-objects';

export function cacheApiObjectCache(): ObjectCache {
  let opened: Promise<Cache> | undefined;
  const cache = () => (opened ??= caches.open(CACHE_NAME));
  return {
    async match(url, range) {
      const request = new Request(url, range ? { headers: { range: `bytes=${range.start}-${range.end}` } } : {});
      return (await (await cache()).match(request)) ?? undefined;
    },
    async put(url, response) {
      await (await cache()).put(url, response);
    },
    async delete(url) {
      return (await cache()).delete(url);
    },
  };
}
