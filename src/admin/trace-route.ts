/**
 * Trace snapshots (src/observe/trace-collector.ts): `POST /admin/api/trace` with `{"duration_seconds": 30,
 * "sample": 0.1}` opens a fleet-wide window (replacing any earlier one) and answers it; `GET /admin/api/trace`
 * reports the last window: per operation and phase p50/p95/p99 in ms, and the slowest requests with their phases.
 * `?window=ID` asks for that window's report and gets 409 when another has replaced it.
 */
import { MAX_TRACE_SECONDS, type TraceCollectorRpc, type TraceWindow } from '../observe/trace-collector.ts';
import type { AuditNote } from './admin-audit.ts';
import { json, readJsonObject } from './http.ts';

export interface TraceContext {
  collector: TraceCollectorRpc;
  /** Tells this isolate's sampler of the window it just opened, so its own requests are sampled at once. */
  opened(window: TraceWindow): void;
}

const EXAMPLE = '{"duration_seconds": 30, "sample": 0.1}';

export async function startTraceRoute(request: Request, trace: TraceContext, note: AuditNote): Promise<Response> {
  const body = await readJsonObject(request, EXAMPLE);
  if (!body.ok) return body.response;
  const { duration_seconds: duration, sample } = body.value;
  note({ duration_seconds: typeof duration === 'number' ? duration : undefined, sample: typeof sample === 'number' ? sample : undefined });
  if (typeof duration !== 'number' || !Number.isInteger(duration) || duration < 1 || duration > MAX_TRACE_SECONDS) {
    return json(400, { error: `duration_seconds must be a whole number of seconds from 1 to ${MAX_TRACE_SECONDS}`, details: { duration_seconds: duration } });
  }
  if (typeof sample !== 'number' || !(sample > 0 && sample <= 1)) {
    return json(400, { error: 'sample must be a number greater than 0 and at most 1 (the share of requests sampled)', details: { sample } });
  }
  const window = await trace.collector.start(duration, sample);
  trace.opened(window);
  return json(201, { window });
}

export async function traceReportRoute(request: Request, trace: TraceContext): Promise<Response> {
  const wanted = new URL(request.url).searchParams.get('window');
  const report = await trace.collector.report();
  if (wanted !== null && report.window?.id !== wanted) {
    return json(409, { error: `trace window ${wanted} was replaced by a newer one (${report.window?.id ?? 'none'})` });
  }
  return json(200, report);
}
