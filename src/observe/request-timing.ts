/**
 * Where one S3 request's time goes, phase by phase: a few clock reads and additions per request, kept on the
 * request's Services and read once the answer is ready (the `Server-Timing` header, trace samples).
 *
 * What each phase measures (docs/admin-api.md, "Trace snapshots"):
 * - `config`: reading the runtime settings and the configuration in effect (KV, cached per isolate);
 * - `rate_limit`: the client's token bucket (a Durable Object call when rate limiting is on);
 * - `auth`: SigV4 verification;
 * - `metadata`: store statements outside a transaction (the reads);
 * - `placement`: choosing the backend for a new copy, including the free-space read it makes (so that read is
 *   counted under `metadata` too);
 * - `backend`: calls to backends, until each answers with its headers: a GET's body streams on after the
 *   response is handed to the client, and that time is in no phase;
 * - `commit`: the store's transactions (the writes), from taking a connection to the commit;
 * - `cleanup`: deleting the copies a delete or an overwrite dropped, or a failed write left (those backend deletes
 *   are counted under `backend` too);
 * - `total`: from the request's arrival to its response's headers.
 * A phase met several times adds up; calls that run concurrently add up too, so phases may sum to more than total.
 */

export const PHASES = ['config', 'rate_limit', 'auth', 'metadata', 'placement', 'backend', 'commit', 'cleanup', 'total'] as const;
export type Phase = (typeof PHASES)[number];

/** Milliseconds per phase, only the phases the request met (a phase met in under a millisecond is there with 0). */
export type PhaseDurations = Partial<Record<Phase, number>>;

/** The request header that asks for a `Server-Timing` answer (any value but `0`); read here, never forwarded. */
export const TRACE_REQUEST_HEADER = 'x-s3o-trace';

export interface RequestTiming {
  /** When the request arrived (ms since the epoch). */
  readonly startedAt: number;
  /** The S3 operation (e.g. PutObject) once the request is routed; `unknown` before. */
  operation: string;
  /** Whether the edge cache answered the read (set only for reads that consulted it). */
  cache: 'hit' | 'miss' | undefined;
  /** Adds `ms` to `phase`. */
  add(phase: Phase, ms: number): void;
  /** Runs `work`, adding its duration to `phase` whether it succeeds or throws. */
  time<T>(phase: Phase, work: () => Promise<T>): Promise<T>;
  /** Sets `total` to the time since the timer was created. */
  finish(): void;
  phases(): PhaseDurations;
  /** Counts one round trip to the database: a new connection, or one statement sent on a connection. */
  countDatabase(trip: DatabaseTrip): void;
  database(): DatabaseTrips;
}

/** A connection costs several round trips (TLS, startup, authentication); a statement costs one. */
export type DatabaseTrip = 'connect' | 'statement';
/** The database round trips one request made; every BEGIN and COMMIT of a transaction is a statement. */
export interface DatabaseTrips {
  connects: number;
  statements: number;
}

export function createRequestTiming(clock: () => number): RequestTiming {
  const started = clock();
  const spent: PhaseDurations = {};
  const trips: DatabaseTrips = { connects: 0, statements: 0 };
  const add = (phase: Phase, ms: number) => {
    spent[phase] = (spent[phase] ?? 0) + Math.max(0, ms);
  };
  return {
    startedAt: started,
    operation: 'unknown',
    cache: undefined,
    add,
    async time(phase, work) {
      const from = clock();
      try {
        return await work();
      } finally {
        add(phase, clock() - from);
      }
    },
    finish() {
      spent.total = Math.max(0, clock() - started);
    },
    phases: () => ({ ...spent }),
    countDatabase(trip) {
      if (trip === 'connect') trips.connects++;
      else trips.statements++;
    },
    database: () => ({ ...trips }),
  };
}

/** Whether the client asked for the request's timings (`X-S3O-Trace: 1`). */
export function wantsServerTiming(headers: Headers): boolean {
  const value = headers.get(TRACE_REQUEST_HEADER);
  return value !== null && value.trim() !== '' && value.trim() !== '0';
}

/**
 * The W3C Server-Timing value (https://www.w3.org/TR/server-timing/): `auth;dur=1.2, metadata;dur=3.4, ...` in
 * PHASES order, milliseconds to a tenth, then the database round trips when there were any:
 * `db;desc="statements=3 connects=1"`, then the edge cache's answer when a read consulted it: `cache;desc="hit"`.
 */
export function serverTimingValue(phases: PhaseDurations, database?: DatabaseTrips, cache?: 'hit' | 'miss'): string {
  const timed = PHASES.flatMap((phase) => {
    const ms = phases[phase];
    return ms === undefined ? [] : [`${phase};dur=${roundedMs(ms)}`];
  });
  const trips = database && database.connects + database.statements > 0 ? [`db;desc="statements=${database.statements} connects=${database.connects}"`] : [];
  const cached = cache ? [`cache;desc="${cache}"`] : [];
  return [...timed, ...trips, ...cached].join(', ');
}

export function roundedMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}
