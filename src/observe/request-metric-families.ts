/**
 * The request and backend-call metric families (names and labels as the reference's §9.3), counted by each isolate
 * and added up across the fleet in the metrics shards. A series is one family with one set of label values; its
 * key is what isolates and shards exchange, so a shard never needs to know the families.
 */

export interface CounterDefinition {
  name: string;
  help: string;
  type: 'counter';
  labels: readonly string[];
}

export interface HistogramDefinition {
  name: string;
  help: string;
  type: 'histogram';
  labels: readonly string[];
  /** Upper bounds of the finite buckets, ascending. */
  bounds: readonly number[];
}

export type FamilyDefinition = CounterDefinition | HistogramDefinition;

/** Request latency, seconds: 5 ms to 60 s. */
export const REQUEST_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;
/** Body sizes, bytes: 1 KiB, then x4 up to 256 GiB. */
export const SIZE_BYTES = Array.from({ length: 15 }, (_, i) => 1024 * 4 ** i);
/** Backend call latency, seconds: 10 ms to 120 s. */
export const BACKEND_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;

const counter = (name: string, labels: readonly string[], help: string): CounterDefinition => ({ name, help, type: 'counter', labels });
const histogram = (name: string, labels: readonly string[], bounds: readonly number[], help: string): HistogramDefinition => ({
  name,
  help,
  type: 'histogram',
  labels,
  bounds,
});

export const REQUESTS = counter('s3o_requests_total', ['method', 'status_code'], 'S3 requests answered, by HTTP method and status code');
export const REQUEST_DURATION = histogram(
  's3o_request_duration_seconds',
  ['method'],
  REQUEST_SECONDS,
  'Time from receiving an S3 request to its response headers (a streamed body may take longer)',
);
export const REQUEST_SIZE = histogram('s3o_request_size_bytes', ['method'], SIZE_BYTES, 'S3 request bodies by their Content-Length (wire bytes; 0 without a body)');
export const RESPONSE_SIZE = histogram(
  's3o_response_size_bytes',
  ['method'],
  SIZE_BYTES,
  'S3 response bodies that declare their length (object reads; 0 without a body); generated XML documents are not counted',
);
export const BACKEND_REQUESTS = counter(
  's3o_backend_requests_total',
  ['operation', 'backend', 'status'],
  'Calls to backends, by S3 operation, backend and outcome (success, error)',
);
export const BACKEND_DURATION = histogram(
  's3o_backend_duration_seconds',
  ['operation', 'backend'],
  BACKEND_SECONDS,
  'Backend call time: to the response headers for reads, to the end of the upload for writes',
);
export const WRITE_FAILOVER = counter(
  's3o_write_failover_total',
  ['operation', 'failed_backend', 'success_backend'],
  'Writes recorded on another backend after the chosen one could not take them (it filled up while the bytes travelled)',
);

export const DATABASE_SHED = counter(
  's3o_database_shed_total',
  ['reason'],
  'Database calls refused by an isolate\'s load shedding (queue-full, waited-too-long); each answered 503 SlowDown',
);

export const CACHE_HITS = counter('s3o_cache_hits_total', [], 'GETs answered from the data center\'s edge cache (cache.enabled)');
export const CACHE_MISSES = counter(
  's3o_cache_misses_total',
  [],
  'GETs of cacheable objects that found no usable entry and read a backend (a whole-object read then fills the cache)',
);
export const CACHE_EVICTIONS = counter(
  's3o_cache_evictions_total',
  [],
  'Edge cache entries the orchestrator removed: the replaced version\'s entry after a write or delete through the same isolate, and entries found unusable',
);

/** Every family the isolates count, in the order /metrics shows them. */
export const REQUEST_FAMILIES: readonly FamilyDefinition[] = [
  REQUESTS,
  REQUEST_DURATION,
  REQUEST_SIZE,
  RESPONSE_SIZE,
  BACKEND_REQUESTS,
  BACKEND_DURATION,
  WRITE_FAILOVER,
  DATABASE_SHED,
  CACHE_HITS,
  CACHE_MISSES,
  CACHE_EVICTIONS,
];

/** Separates the family name and label values in a series key (a byte no metric name or label value we count holds). */
const SEP = '\u001f';

export function seriesKey(family: FamilyDefinition, labelValues: readonly string[]): string {
  return labelValues.length === 0 ? family.name : `${family.name}${SEP}${labelValues.join(SEP)}`;
}

/** The family and labels of a series key; undefined for a family this code no longer defines (e.g. after a rename). */
export function seriesOf(key: string): { family: FamilyDefinition; labels: Record<string, string> } | undefined {
  const [name, ...values] = key.split(SEP);
  const family = REQUEST_FAMILIES.find((f) => f.name === name);
  if (!family || values.length !== family.labels.length) return undefined;
  return { family, labels: Object.fromEntries(family.labels.map((label, i) => [label, values[i] ?? ''])) };
}

/**
 * A series' values as isolates and shards add them: a counter is [value]; a histogram is one count per bucket
 * (its bounds, then +Inf), then the sum of the observations.
 */
export type SeriesValues = number[];

export function emptyValues(family: FamilyDefinition): SeriesValues {
  return family.type === 'counter' ? [0] : new Array<number>(family.bounds.length + 2).fill(0);
}

/** The bucket an observation falls in: the first bound it does not exceed, or the overflow bucket. */
export function bucketIndex(bounds: readonly number[], value: number): number {
  for (let i = 0; i < bounds.length; i++) if (value <= bounds[i]!) return i;
  return bounds.length;
}

/** Adds `delta` into `into`, element by element (both of the same series, so of the same length). */
export function addValues(into: SeriesValues, delta: readonly number[]): void {
  for (let i = 0; i < delta.length; i++) into[i] = (into[i] ?? 0) + (delta[i] ?? 0);
}
