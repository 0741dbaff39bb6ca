/** `admin cache stats`: the edge cache's settings, fleet-wide counts and last purges. `admin cache purge`: a purge. */
import { call } from './api-call.ts';
import { bytes, fail, printJson } from './output.ts';
import type { Target } from './target.ts';

interface CacheStats {
  enabled: boolean;
  max_object_size: number;
  ttl_seconds: number;
  hits: number;
  misses: number;
  evictions: number;
  hit_ratio: number | null;
  purges: { generation: number; bucket: string | null; prefix: string; purged_at: string }[];
}

export async function cacheStats(target: Target, json: boolean): Promise<number> {
  const body = await call(target, 'GET', '/admin/api/cache');
  if (!body.ok) return fail(body.error);
  const s = body.value as CacheStats;
  if (json) {
    printJson(s);
    return 0;
  }
  console.log(`edge cache: ${s.enabled ? 'on' : 'off'} (objects up to ${bytes(s.max_object_size)}, kept for ${s.ttl_seconds} s)`);
  const ratio = s.hit_ratio === null ? '-' : `${(s.hit_ratio * 100).toFixed(1)}%`;
  console.log(`hits ${s.hits}, misses ${s.misses} (hit ratio ${ratio}), evictions ${s.evictions}`);
  for (const p of s.purges) console.log(`purged ${p.purged_at}: ${scope(p.bucket, p.prefix)} (generation ${p.generation})`);
  return 0;
}

export async function cachePurge(target: Target, bucket: string | undefined, prefix: string | undefined, json: boolean): Promise<number> {
  const body = await call(target, 'POST', '/admin/api/cache/purge', { ...(bucket === undefined ? {} : { bucket }), ...(prefix === undefined ? {} : { prefix }) });
  if (!body.ok) return fail(body.error);
  const r = body.value as { generation: number; bucket: string | null; prefix: string };
  if (json) printJson(r);
  else console.log(`purged ${scope(r.bucket, r.prefix)}: no data center serves those entries any more (generation ${r.generation})`);
  return 0;
}

function scope(bucket: string | null, prefix: string): string {
  const where = bucket === null ? 'every bucket' : `bucket ${bucket}`;
  return prefix === '' ? where : `${where}, keys under ${JSON.stringify(prefix)}`;
}
