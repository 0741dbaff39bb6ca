/**
 * What a trace snapshot reports: per S3 operation and phase the 50th, 95th and 99th percentiles of the sampled
 * requests' milliseconds, and the slowest requests with their phases. Pure: the trace collector runs it over the
 * samples it holds (src/observe/trace-collector.ts).
 */
import { PHASES, type Phase, type PhaseDurations, roundedMs } from './request-timing.ts';

/** One sampled request, as isolates send it and the report lists the slowest. */
export interface TraceSample {
  request_id: string;
  operation: string;
  status: number;
  /** When the request arrived (ISO 8601). */
  time: string;
  phases: PhaseDurations;
}

/** Milliseconds over the samples that met the phase (`count` of them). */
export interface PhaseStats {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface OperationSummary {
  operation: string;
  /** Sampled requests of this operation. */
  count: number;
  phases: Partial<Record<Phase, PhaseStats>>;
}

/** How many of the slowest requests a report lists. */
export const SLOWEST_LISTED = 10;

/** The nearest-rank percentile (`p` in 0-100] of ascending `sorted`; 0 for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? 0;
}

export function phaseStats(values: readonly number[]): PhaseStats {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => roundedMs(percentile(sorted, p));
  return { count: sorted.length, p50: at(50), p95: at(95), p99: at(99), max: roundedMs(sorted.at(-1) ?? 0) };
}

/** Per operation (by name), each phase the samples met, in PHASES order. */
export function summarise(samples: readonly TraceSample[]): OperationSummary[] {
  const byOperation = new Map<string, TraceSample[]>();
  for (const sample of samples) {
    const group = byOperation.get(sample.operation);
    if (group) group.push(sample);
    else byOperation.set(sample.operation, [sample]);
  }
  return [...byOperation.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([operation, group]) => {
      const phases: Partial<Record<Phase, PhaseStats>> = {};
      for (const phase of PHASES) {
        const values = group.flatMap((s) => (s.phases[phase] === undefined ? [] : [s.phases[phase]]));
        if (values.length > 0) phases[phase] = phaseStats(values);
      }
      return { operation, count: group.length, phases };
    });
}

/** The `limit` samples with the longest total, longest first. */
export function slowestSamples(samples: readonly TraceSample[], limit = SLOWEST_LISTED): TraceSample[] {
  return [...samples].sort((a, b) => (b.phases.total ?? 0) - (a.phases.total ?? 0)).slice(0, limit);
}
