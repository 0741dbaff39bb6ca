/**
 * The backend Durable Object's usage reports (src/backend-state/usage-control.ts): each report adds to the month's
 * totals, and services (the database) are opened only when a flush is due by the configuration in effect, not on
 * every report. The object's storage and the services are in-memory stand-ins here; the integration tests run the
 * real object (usage-limits.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { type UsageFlushSettings, type UsageStore, type StoredUsage, recordUsage } from '../../src/backend-state/usage-control.ts';
import type { OpenServices } from '../../src/services/services.ts';

const SETTINGS: UsageFlushSettings = {
  usageFlush: { intervalMs: 30_000, adaptiveEnabled: true, adaptiveThreshold: 0.8, fastIntervalMs: 5_000 },
  limits: { apiRequestLimit: 100, egressByteLimit: 0, ingressByteLimit: 0 },
};

function harness() {
  let stored: StoredUsage | undefined;
  const store: UsageStore = { get: async () => stored, put: async (value) => void (stored = value) };
  let opened = 0;
  // Counts the openings; none can be used (undefined answers "no usable configuration"), so a flush writes nothing.
  const open: OpenServices = async () => {
    opened++;
    return undefined;
  };
  const background: Promise<unknown>[] = [];
  const deps = { settings: async () => SETTINGS, open, background: (work: Promise<unknown>) => void background.push(work) };
  return { store, deps, opened: () => opened, settled: () => Promise.all(background), stored: () => stored };
}

const ONE_CALL = { apiRequests: 1, egressBytes: 0, ingressBytes: 10 };
const T0 = Date.UTC(2026, 11, 4, 12);

describe('usage reports', () => {
  it('add up without opening services until a flush is due, then open them once', async () => {
    const h = harness();
    for (let i = 0; i < 10; i++) await recordUsage(h.store, 'b1', ONE_CALL, h.deps, T0 + i * 1000);
    await h.settled();
    expect(h.opened()).toBe(0);
    expect(h.stored()?.usage).toMatchObject({ apiRequests: 10, ingressBytes: 100 });
    const usage = await recordUsage(h.store, 'b1', ONE_CALL, h.deps, T0 + 30_000);
    await h.settled();
    expect(usage).toMatchObject({ apiRequests: 11 });
    expect(h.opened()).toBe(1);
  });

  it('flush sooner while a limit is nearly used up (adaptive), and not at all without a usable configuration', async () => {
    const h = harness();
    await recordUsage(h.store, 'b1', { ...ONE_CALL, apiRequests: 85 }, h.deps, T0);
    await recordUsage(h.store, 'b1', ONE_CALL, h.deps, T0 + 5_000);
    await h.settled();
    expect(h.opened()).toBe(1);

    const none = harness();
    const deps = { ...none.deps, settings: async () => undefined };
    await recordUsage(none.store, 'b1', ONE_CALL, deps, T0);
    await recordUsage(none.store, 'b1', ONE_CALL, deps, T0 + 3_600_000);
    await none.settled();
    expect(none.opened()).toBe(0);
    expect(none.stored()?.usage.apiRequests).toBe(2);
  });
});
