/**
 * The isolate's usage reports to a backend's Durable Object (src/backends/backend-health.ts): the first call's
 * usage goes at once, later ones are added up while a report is on its way and for the spacing after it, and until
 * a report is answered its usage counts in `usage()` all the same, so limit checks never wait for it. The backend
 * and its object are in-memory stand-ins here; usage-limits.test.ts runs the real ones.
 */
import { describe, expect, it } from 'vitest';
import { createBackendHealth, createHealthMemory } from '../../src/backends/backend-health.ts';
import { REPORT_SPACING_MS } from '../../src/util/spaced-sends.ts';
import type { BackendStateRpc } from '../../src/backends/backend-state-rpc.ts';
import type { BackendClient } from '../../src/backends/client.ts';
import { type Usage, type UsageDelta, addUsage } from '../../src/backends/usage.ts';

const NOW = Date.UTC(2026, 11, 4, 12);

function harness() {
  let total: Usage | undefined;
  const reports: UsageDelta[] = [];
  let answer: { promise: Promise<void>; open(): void } | undefined;
  let failNext = false;
  const object = {
    async addUsage(_backend: string, delta: UsageDelta) {
      reports.push(delta);
      if (answer) await answer.promise;
      if (failNext) {
        failNext = false;
        throw new Error('object unreachable');
      }
      total = addUsage(total, delta, NOW);
      return total;
    },
  } as unknown as BackendStateRpc;
  const sleeps: { ms: number; wake(): void }[] = [];
  const background: Promise<unknown>[] = [];
  const health = createBackendHealth(
    {
      backendState: () => object,
      waitUntil: (p) => void background.push(p),
      now: () => NOW,
      sleep: (ms) => new Promise<void>((wake) => sleeps.push({ ms, wake })),
    },
    createHealthMemory(),
  );
  const backend = { name: 'b1', deleteObject: async () => {} } as unknown as BackendClient;
  const client = health.track(backend);
  const tick = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
  return {
    health,
    reports,
    sleeps,
    call: () => client.deleteObject('k'),
    hold() {
      let open = () => {};
      answer = { promise: new Promise<void>((resolve) => (open = resolve)), open: () => open() };
    },
    async answer() {
      answer?.open();
      answer = undefined;
      await tick();
    },
    async wake() {
      // Whatever is under way first reaches its sleep.
      await tick();
      for (const s of sleeps.splice(0)) s.wake();
      await tick();
    },
    failNextReport() {
      failNext = true;
    },
    settled: () => Promise.all(background),
  };
}

describe('usage reports', () => {
  it('send the first call at once, then add up calls while a report travels and for the spacing after it', async () => {
    const h = harness();
    h.hold();
    await h.call();
    expect(h.reports).toEqual([{ apiRequests: 1, egressBytes: 0, ingressBytes: 0 }]);
    for (let i = 0; i < 4; i++) await h.call();
    // Unanswered, the five calls count all the same.
    expect(h.health.usage('b1')?.apiRequests).toBe(5);
    await h.answer();
    expect(h.sleeps.map((s) => s.ms)).toEqual([REPORT_SPACING_MS]);
    await h.call();
    expect(h.reports).toHaveLength(1);
    await h.wake();
    expect(h.reports).toEqual([
      { apiRequests: 1, egressBytes: 0, ingressBytes: 0 },
      { apiRequests: 5, egressBytes: 0, ingressBytes: 0 },
    ]);
    expect(h.health.usage('b1')?.apiRequests).toBe(6);
    await h.wake();
    await h.settled();
    expect(h.health.usage('b1')?.apiRequests).toBe(6);
  });

  it('a report that fails is dropped, and the next calls are reported again', async () => {
    const h = harness();
    h.failNextReport();
    await h.call();
    await h.wake();
    await h.settled();
    expect(h.health.usage('b1')).toBeUndefined();
    await h.call();
    await h.wake();
    await h.settled();
    expect(h.health.usage('b1')?.apiRequests).toBe(1);
    expect(h.reports).toHaveLength(2);
  });
});
