/**
 * Monthly usage per backend (API calls, egress and ingress bytes), counted in the backend's Durable Object from
 * the deltas isolates report after each call, and checked against the backend's limits before a backend is used.
 */
import type { BackendConfig } from '../config/types.ts';

export interface Usage {
  /** `YYYY-MM` (UTC). */
  period: string;
  apiRequests: number;
  egressBytes: number;
  ingressBytes: number;
}

export interface UsageDelta {
  apiRequests: number;
  egressBytes: number;
  ingressBytes: number;
}

export function usagePeriod(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

export function emptyUsage(now: number): Usage {
  return { period: usagePeriod(now), apiRequests: 0, egressBytes: 0, ingressBytes: 0 };
}

/** Adds a delta; a new month starts from zero. */
export function addUsage(current: Usage | undefined, delta: UsageDelta, now: number): Usage {
  const base = current && current.period === usagePeriod(now) ? current : emptyUsage(now);
  return {
    period: base.period,
    apiRequests: base.apiRequests + delta.apiRequests,
    egressBytes: base.egressBytes + delta.egressBytes,
    ingressBytes: base.ingressBytes + delta.ingressBytes,
  };
}

type Limits = Pick<BackendConfig, 'apiRequestLimit' | 'egressByteLimit' | 'ingressByteLimit'>;

/** Why a backend may not serve this read now, or undefined when it may. Limits of 0 are unlimited. */
export function readRefusal(usage: Usage | undefined, limits: Limits, now: number): string | undefined {
  if (!usage || usage.period !== usagePeriod(now)) return undefined;
  if (limits.apiRequestLimit > 0 && usage.apiRequests >= limits.apiRequestLimit) return 'api_request_limit';
  if (limits.egressByteLimit > 0 && usage.egressBytes >= limits.egressByteLimit) return 'egress_byte_limit';
  return undefined;
}

/** Why a backend may not take a write of `bytes` now, or undefined when it may. */
export function writeRefusal(usage: Usage | undefined, limits: Limits, bytes: number, now: number): string | undefined {
  if (!usage || usage.period !== usagePeriod(now)) return undefined;
  if (limits.apiRequestLimit > 0 && usage.apiRequests >= limits.apiRequestLimit) return 'api_request_limit';
  if (limits.ingressByteLimit > 0 && usage.ingressBytes + bytes > limits.ingressByteLimit) return 'ingress_byte_limit';
  return undefined;
}

/** The highest fraction of any limit used (0 when unlimited): near 1, flushing speeds up. */
export function limitPressure(usage: Usage, limits: Limits): number {
  const ratio = (used: number, limit: number) => (limit > 0 ? used / limit : 0);
  return Math.max(ratio(usage.apiRequests, limits.apiRequestLimit), ratio(usage.egressBytes, limits.egressByteLimit), ratio(usage.ingressBytes, limits.ingressByteLimit));
}
