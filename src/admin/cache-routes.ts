/** The edge cache over the admin API: its settings and fleet-wide counts, and purges. */
import type { AuditNote } from './admin-audit.ts';
import type { AdminContext } from './api.ts';
import { json, readJsonObject } from './http.ts';
import { configuredBucket, prefixParam } from './object-address.ts';
import { recentCachePurges, recordCachePurge } from '../store/cache-purges.ts';

const RECENT_PURGES = 10;

/**
 * GET /admin/api/cache: `{enabled, max_object_size, ttl_seconds, hits, misses, evictions, hit_ratio, purges}`,
 * the counts fleet-wide since they were last reset (as /metrics has them) and the last purges, newest first.
 */
export async function cacheStatsRoute(context: AdminContext): Promise<Response> {
  const { services } = context;
  const settings = services.config.cache;
  const [families, purges] = await Promise.all([services.metrics.read(), recentCachePurges(services.db(), RECENT_PURGES)]);
  const total = (name: string) => {
    const family = families.find((f) => f.name === name);
    return family && family.type !== 'histogram' ? family.samples.reduce((sum, s) => sum + s.value, 0) : 0;
  };
  const hits = total('s3o_cache_hits_total');
  const misses = total('s3o_cache_misses_total');
  return json(200, {
    enabled: settings.enabled,
    max_object_size: settings.maxObjectSize,
    ttl_seconds: settings.ttlMs / 1000,
    hits,
    misses,
    evictions: total('s3o_cache_evictions_total'),
    hit_ratio: hits + misses > 0 ? hits / (hits + misses) : null,
    purges: purges.map((p) => ({ generation: p.generation, bucket: p.bucket || null, prefix: p.prefix, purged_at: p.purgedAt.toISOString() })),
  });
}

/**
 * POST /admin/api/cache/purge, body `{bucket?, prefix?}`: no data center serves an entry of the objects it covers
 * from now on (every bucket when `bucket` is left out, every key when `prefix` is). Answers `{generation, bucket,
 * prefix}`.
 */
export async function cachePurgeRoute(request: Request, context: AdminContext, note: AuditNote): Promise<Response> {
  const body = await readJsonObject(request, '{"bucket": "photos", "prefix": "2024/"}');
  if (!body.ok) return body.response;
  const { bucket: bucketField, prefix: prefixField } = body.value;
  const bucket = bucketField === undefined || bucketField === null ? '' : configuredBucket(bucketField, context);
  if (bucket instanceof Response) return bucket;
  const prefix = prefixField === undefined || prefixField === null ? '' : prefixParam(prefixField);
  if (prefix instanceof Response) return prefix;
  note({ bucket: bucket || undefined, prefix });
  const generation = await recordCachePurge(context.services.db(), { bucket, prefix });
  return json(200, { generation, bucket: bucket || null, prefix });
}
