/**
 * The request metrics as the rest of the code sees them: what the S3 front door and the backend clients count
 * (into this isolate's recorder, a few map updates per request), and the fleet's totals for /metrics, added up
 * from every metrics shard after this isolate's own counts are sent.
 */
import packageJson from '../../package.json' with { type: 'json' };
import type { MetricFamily } from './metrics.ts';
import type { FlushOutcome, MetricsRecorder, SendBatches } from './metrics-recorder.ts';
import { METRICS_SHARDS, type MetricsShardRpc, sumTotals } from './metrics-shard.ts';
import {
  BACKEND_DURATION,
  BACKEND_REQUESTS,
  CACHE_EVICTIONS,
  CACHE_HITS,
  CACHE_MISSES,
  REQUESTS,
  REQUEST_DURATION,
  REQUEST_FAMILIES,
  REQUEST_SIZE,
  RESPONSE_SIZE,
  type SeriesValues,
  WRITE_FAILOVER,
  seriesOf,
} from './request-metric-families.ts';

/** The package version this Worker was built from (bundled from package.json). */
export const BUILD_VERSION: string = packageJson.version;

export interface RequestMetrics {
  /** Counts a write recorded on `successBackend` after `failedBackend` could not take it. */
  writeFailover(operation: string, failedBackend: string, successBackend: string): void;
  /** Counts an edge cache hit, miss or eviction. */
  cache(event: 'hit' | 'miss' | 'eviction'): void;
  /** Sends this isolate's counts to its shard now. */
  flush(): Promise<FlushOutcome>;
  /** The fleet's request families: this isolate's counts sent first, then every shard's totals added up. */
  read(): Promise<MetricFamily[]>;
}

export interface RequestMetricsDeps {
  recorder: MetricsRecorder;
  shard(index: number): MetricsShardRpc;
  now(): number;
}

export function createRequestMetrics(deps: RequestMetricsDeps): RequestMetrics {
  const flush = () => deps.recorder.flush(deps.now(), sendToShard(deps.shard));
  return {
    writeFailover: (operation, failed, success) => deps.recorder.count(WRITE_FAILOVER, [operation, failed, success]),
    cache: (event) => deps.recorder.count(CACHE_EVENTS[event], []),
    flush,
    async read() {
      await flush();
      const totals = await Promise.all(Array.from({ length: METRICS_SHARDS }, (_, i) => deps.shard(i).totals()));
      return [buildInfo(), ...requestFamilies(sumTotals(totals))];
    },
  };
}

const CACHE_EVENTS = { hit: CACHE_HITS, miss: CACHE_MISSES, eviction: CACHE_EVICTIONS } as const;

/** How a recorder's batches reach the shard it chose. */
export function sendToShard(shard: (index: number) => MetricsShardRpc): SendBatches {
  return (isolate, index, batches) => shard(index).merge(isolate, batches);
}

/** One answered S3 request; sizes are undefined when unknown (a body without a declared length). */
export function recordRequest(
  recorder: MetricsRecorder,
  request: { method: string; status: number; seconds: number; requestBytes: number | undefined; responseBytes: number | undefined },
): void {
  const method = [request.method];
  recorder.count(REQUESTS, [request.method, String(request.status)]);
  recorder.observe(REQUEST_DURATION, method, request.seconds);
  if (request.requestBytes !== undefined) recorder.observe(REQUEST_SIZE, method, request.requestBytes);
  if (request.responseBytes !== undefined) recorder.observe(RESPONSE_SIZE, method, request.responseBytes);
}

/** One call to a backend, by its S3 operation name. */
export function recordBackendCall(recorder: MetricsRecorder, call: { operation: string; backend: string; ok: boolean; seconds: number }): void {
  recorder.count(BACKEND_REQUESTS, [call.operation, call.backend, call.ok ? 'success' : 'error']);
  recorder.observe(BACKEND_DURATION, [call.operation, call.backend], call.seconds);
}

/** A body's length as its headers declare it: 0 without a body, undefined when it streams without one. */
export function declaredLength(headers: Headers, hasBody: boolean): number | undefined {
  const length = headers.get('content-length');
  if (length !== null && /^\d+$/.test(length)) return Number(length);
  return hasBody ? undefined : 0;
}

function buildInfo(): MetricFamily {
  return { name: 's3o_build_info', help: 'The running build: its version (value always 1)', type: 'gauge', samples: [{ labels: { version: BUILD_VERSION }, value: 1 }] };
}

/** The families, each with its series (families with none still say their HELP and TYPE). */
export function requestFamilies(totals: ReadonlyMap<string, SeriesValues>): MetricFamily[] {
  const byFamily = new Map<string, { labels: Record<string, string>; values: SeriesValues }[]>();
  for (const [key, values] of totals) {
    const series = seriesOf(key);
    if (series) byFamily.set(series.family.name, [...(byFamily.get(series.family.name) ?? []), { labels: series.labels, values }]);
  }
  return REQUEST_FAMILIES.map((family): MetricFamily => {
    const series = byFamily.get(family.name) ?? [];
    if (family.type === 'counter') {
      // A counter without labels is one series, shown from zero.
      const counted = series.length === 0 && family.labels.length === 0 ? [{ labels: {}, values: [0] }] : series;
      return { name: family.name, help: family.help, type: 'counter', samples: counted.map((s) => ({ labels: s.labels, value: s.values[0] ?? 0 })) };
    }
    const buckets = family.bounds.length + 1;
    return {
      name: family.name,
      help: family.help,
      type: 'histogram',
      bounds: family.bounds,
      samples: series.map((s) => ({ labels: s.labels, counts: s.values.slice(0, buckets), sum: s.values[buckets] ?? 0 })),
    };
  });
}

/** Every family name /metrics can show from this module (the Grafana dashboard's test checks against them). */
export const REQUEST_METRIC_NAMES: readonly string[] = ['s3o_build_info', ...REQUEST_FAMILIES.map((f) => f.name)];
