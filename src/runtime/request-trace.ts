/**
 * What an answered S3 request leaves for tracing: its phases in a `Server-Timing` header when the client asked
 * (`X-S3O-Trace: 1`), and a sample for the fleet's trace collector when a trace window is open and the request is
 * drawn. Neither waits on anything: the sample goes out through waitUntil (src/observe/trace-sampler.ts).
 */
import { type RequestTiming, serverTimingValue, wantsServerTiming } from '../observe/request-timing.ts';
import type { Bindings } from './bindings.ts';
import { thisIsolate } from './isolate.ts';

export function traceS3Request(request: Request, response: Response, answered: { requestId: string; timing: RequestTiming }, bindings: Bindings): void {
  const { requestId, timing } = answered;
  const phases = timing.phases();
  // Every response the S3 surface builds has mutable headers (withRequestId sets its own on each).
  if (wantsServerTiming(request.headers)) response.headers.set('server-timing', serverTimingValue(phases, timing.database(), timing.cache));
  const sampler = thisIsolate().trace;
  const deps = { collector: bindings.traceCollector, waitUntil: bindings.waitUntil };
  const windowId = sampler.sampleInto(Date.now(), deps);
  if (windowId === undefined) return;
  const sample = { request_id: requestId, operation: timing.operation, status: response.status, time: new Date(timing.startedAt).toISOString(), phases };
  sampler.record(windowId, sample, deps);
}
