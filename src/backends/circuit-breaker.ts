/**
 * A backend's circuit breaker, kept in its Durable Object so the whole fleet shares one view. Closed: calls go
 * through and consecutive failures are counted; at `failureThreshold` it opens. Open: the backend is skipped (reads
 * go to other copies, writes to other backends) until `openTimeoutMs` (with +-10 % jitter, so a fleet does not
 * retry in step) has passed. Then one caller at a time gets the half-open probe; its success closes the breaker,
 * its failure opens it again. A probe that never reports back is given up after PROBE_STALE_MS, so another
 * caller may probe. A 404 or other client error is the backend working, not failing.
 */

export const PROBE_STALE_MS = 30_000;

export interface BreakerSettings {
  failureThreshold: number;
  openTimeoutMs: number;
}

export interface BreakerState {
  state: 'closed' | 'open' | 'half-open';
  consecutiveFailures: number;
  /** When it last left the closed state (for health-aware replication), or undefined while closed. */
  unhealthySince?: number;
  /** While open: when a probe may be tried. */
  retryAt?: number;
  /** While half-open: when the probe in flight was handed out. */
  probeSince?: number;
  lastError?: string;
}

export const CLOSED: BreakerState = { state: 'closed', consecutiveFailures: 0 };

export function recordFailure(current: BreakerState, settings: BreakerSettings, now: number, error: string, random = Math.random()): BreakerState {
  const failures = current.consecutiveFailures + 1;
  if (current.state === 'closed' && failures < settings.failureThreshold) return { ...current, consecutiveFailures: failures, lastError: error };
  const jitter = 1 + (random * 2 - 1) * 0.1;
  return {
    state: 'open',
    consecutiveFailures: failures,
    unhealthySince: current.unhealthySince ?? now,
    retryAt: now + Math.round(settings.openTimeoutMs * jitter),
    lastError: error,
  };
}

export function recordSuccess(current: BreakerState): BreakerState {
  if (current.state === 'closed' && current.consecutiveFailures === 0) return current;
  // A success while open comes from a call that started before it opened; only the probe (half-open) closes it.
  if (current.state === 'open') return current;
  return CLOSED;
}

/**
 * Whether a call may go to the backend now, and the state after asking: closed always; open not until its time,
 * when this caller becomes the probe (half-open); half-open only when the probe in flight went stale.
 */
export function admit(current: BreakerState, now: number): { allowed: boolean; next: BreakerState } {
  if (current.state === 'closed') return { allowed: true, next: current };
  if (current.state === 'open') {
    if (current.retryAt !== undefined && now < current.retryAt) return { allowed: false, next: current };
    return { allowed: true, next: { ...current, state: 'half-open', probeSince: now } };
  }
  if (current.probeSince !== undefined && now - current.probeSince >= PROBE_STALE_MS) {
    return { allowed: true, next: { ...current, probeSince: now } };
  }
  return { allowed: false, next: current };
}

/** Failures that say the backend is unwell: it could not be reached, or answered 5xx (or 429). */
export function isBackendFault(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}
