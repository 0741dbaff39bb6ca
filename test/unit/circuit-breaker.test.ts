import { describe, expect, it } from 'vitest';
import { CLOSED, PROBE_STALE_MS, admit, isBackendFault, recordFailure, recordSuccess } from '../../src/backends/circuit-breaker.ts';

const settings = { failureThreshold: 3, openTimeoutMs: 10_000 };

describe('circuit breaker', () => {
  it('opens after the threshold of consecutive failures, with a jittered timeout', () => {
    let s = CLOSED;
    s = recordFailure(s, settings, 1000, 'e1', 0.5);
    s = recordFailure(s, settings, 1001, 'e2', 0.5);
    expect(s).toMatchObject({ state: 'closed', consecutiveFailures: 2 });
    s = recordFailure(s, settings, 1002, 'e3', 0.5);
    expect(s).toMatchObject({ state: 'open', unhealthySince: 1002, retryAt: 11_002, lastError: 'e3' });
    expect(recordFailure(CLOSED, { ...settings, failureThreshold: 1 }, 0, 'x', 0).retryAt).toBe(9000);
    expect(recordFailure(CLOSED, { ...settings, failureThreshold: 1 }, 0, 'x', 1).retryAt).toBe(11_000);
  });

  it('a success resets failures while closed, but never closes an open breaker by itself', () => {
    const failing = recordFailure(CLOSED, settings, 0, 'e', 0.5);
    expect(recordSuccess(failing)).toEqual(CLOSED);
    const open = recordFailure(recordFailure(failing, settings, 1, 'e', 0.5), settings, 2, 'e', 0.5);
    expect(recordSuccess(open)).toBe(open);
  });

  it('admits one half-open probe when the time is up; its outcome decides', () => {
    const open = recordFailure({ ...CLOSED, consecutiveFailures: 2 }, settings, 0, 'e', 0.5);
    expect(admit(open, 5000).allowed).toBe(false);
    const probe = admit(open, 10_000);
    expect(probe).toMatchObject({ allowed: true, next: { state: 'half-open', probeSince: 10_000 } });
    expect(admit(probe.next, 10_001).allowed).toBe(false);
    expect(recordSuccess(probe.next)).toEqual(CLOSED);
    const reopened = recordFailure(probe.next, settings, 10_002, 'still down', 0.5);
    expect(reopened).toMatchObject({ state: 'open', unhealthySince: 0, retryAt: 20_002 });
  });

  it('gives up a probe that never reported back, so another caller may probe', () => {
    const halfOpen = { ...CLOSED, state: 'half-open' as const, probeSince: 0, unhealthySince: 0 };
    expect(admit(halfOpen, PROBE_STALE_MS - 1).allowed).toBe(false);
    expect(admit(halfOpen, PROBE_STALE_MS)).toMatchObject({ allowed: true, next: { probeSince: PROBE_STALE_MS } });
  });

  it('counts unreachable, 5xx and 429 as faults; a 404 or 403 is the backend working', () => {
    expect([0, 500, 503, 429].map(isBackendFault)).toEqual([true, true, true, true]);
    expect([404, 403, 400, 412].map(isBackendFault)).toEqual([false, false, false, false]);
  });
});
