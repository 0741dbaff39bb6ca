/**
 * `admin trace [--duration 30s] [--sample 0.1]`: opens a fleet-wide trace window (POST /admin/api/trace), waits
 * it out with a line on stderr, then prints the report (GET /admin/api/trace): p50/p95/p99 per operation and phase,
 * and the slowest requests with their phases; --json prints the route's JSON as is.
 */
import { MAX_TRACE_SECONDS, type TraceReport, type TraceWindow } from '../observe/trace-collector.ts';
import { PHASES, type PhaseDurations } from '../observe/request-timing.ts';
import { WINDOW_REFRESH_MS } from '../observe/trace-sampler.ts';
import { call } from './api-call.ts';
import { durationSeconds } from './duration.ts';
import { fail, printJson, printTable } from './output.ts';
import type { Target } from './target.ts';

export const DEFAULT_TRACE_DURATION = '30s';
export const DEFAULT_TRACE_SAMPLE = '0.1';
/** Isolates send their last samples through waitUntil after the window ends: the report is asked for this much later. */
const SETTLE_MS = 2000;
const DECIMAL = /^(\d+(\.\d*)?|\.\d+)$/;

export async function adminTrace(target: Target, opts: { duration: string | undefined; sample: string | undefined; json: boolean }): Promise<number> {
  const durationText = opts.duration ?? DEFAULT_TRACE_DURATION;
  const seconds = durationSeconds(durationText);
  if (seconds === undefined || seconds < 1 || seconds > MAX_TRACE_SECONDS) {
    return fail(`--duration must be from 1s to ${MAX_TRACE_SECONDS / 60}m (e.g. 30s, 2m), got "${durationText}"`, 2);
  }
  const sampleText = opts.sample ?? DEFAULT_TRACE_SAMPLE;
  const sample = DECIMAL.test(sampleText) ? Number(sampleText) : NaN;
  if (!(sample > 0 && sample <= 1)) return fail(`--sample must be a share of requests above 0 and at most 1 (e.g. 0.1), got "${sampleText}"`, 2);

  const started = await call(target, 'POST', '/admin/api/trace', { duration_seconds: seconds, sample });
  if (!started.ok) return fail(started.error);
  const { window } = started.value as { window: TraceWindow };
  console.error(
    `tracing ${seconds} s, sampling ${sample * 100}% of S3 requests fleet-wide (isolates join within ${WINDOW_REFRESH_MS / 1000} s); report at ${window.ends_at}...`,
  );
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000 + SETTLE_MS));
  const report = await call(target, 'GET', `/admin/api/trace?window=${encodeURIComponent(window.id)}`);
  if (!report.ok) return fail(report.error);
  if (opts.json) printJson(report.value);
  else printReport(report.value as TraceReport);
  return 0;
}

function printReport(report: TraceReport): void {
  const window = report.window;
  console.log(`trace ${window?.id ?? '-'}: ${window?.duration_seconds ?? 0} s at sample ${window?.sample ?? 0}, ${report.samples} requests sampled, ${report.dropped} dropped`);
  if (report.samples === 0) {
    console.log('no S3 request was sampled in the window');
    return;
  }
  console.log('');
  const rows = report.operations.flatMap((op) =>
    PHASES.flatMap((phase) => {
      const stats = op.phases[phase];
      return stats ? [[op.operation, phase, String(stats.count), ms(stats.p50), ms(stats.p95), ms(stats.p99), ms(stats.max)]] : [];
    }),
  );
  printTable(['OPERATION', 'PHASE', 'COUNT', 'P50 MS', 'P95 MS', 'P99 MS', 'MAX MS'], rows);
  console.log('');
  console.log('slowest requests:');
  printTable(
    ['REQUEST ID', 'OPERATION', 'STATUS', 'TOTAL MS', 'PHASES (MS)'],
    report.slowest.map((s) => [s.request_id, s.operation, String(s.status), ms(s.phases.total ?? 0), phaseList(s.phases)]),
  );
}

/** `auth=0.4 metadata=2.1 ...`: every phase the request met but total, in PHASES order. */
function phaseList(phases: PhaseDurations): string {
  return PHASES.flatMap((phase) => (phase === 'total' || phases[phase] === undefined ? [] : [`${phase}=${ms(phases[phase])}`])).join(' ');
}

function ms(value: number): string {
  return value.toFixed(1);
}
