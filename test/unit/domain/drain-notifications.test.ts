/**
 * The drain's notifications from the backend's Durable Object logic: `backend.drain.failed` once per drain however
 * many steps fail, and `backend.drain.completed` when it ends.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type DurableState, type StoredState, runDrainAlarm, startDrain } from '../../../src/backend-state/drain-control.ts';
import type { Services } from '../../../src/services/services.ts';
import { DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

function memoryDurable(): DurableState & { alarm: number | null } {
  let state: StoredState = { mode: 'active' };
  const durable = {
    alarm: null as number | null,
    read: async () => state,
    write: async (next: StoredState) => void (state = structuredClone(next)),
    setAlarm: async (at: number) => void (durable.alarm = at),
    deleteAlarm: async () => void (durable.alarm = null),
    getAlarm: async () => durable.alarm,
  };
  return durable;
}

const opener = (services: Services) => async () => ({ services, close: async () => {} });

describe('drain notifications', () => {
  it('announce a failing drain once, and its completion', async () => {
    const w = await domainServices({ backends: ['a', 'b'] });
    const durable = memoryDurable();
    expect((await startDrain(durable, 'a', opener(w.services))).ok).toBe(true);

    const away: Services = {
      ...w.services,
      db: () => {
        throw new Error('database away');
      },
    };
    await runDrainAlarm(durable, opener(away), w.clock.now);
    await runDrainAlarm(durable, opener(away), w.clock.now);
    expect(w.notifications.map((n) => n.type)).toEqual(['backend.drain.failed']);
    expect(w.notifications[0]).toMatchObject({ subject: 'a', data: { backend: 'a', failures: 1, last_error: 'database away', still_retrying: true } });

    // Nothing is stored on `a`: the next step that reaches the database finishes the drain.
    for (let i = 0; i < 5 && (await durable.read()).mode === 'draining'; i++) await runDrainAlarm(durable, opener(w.services), w.clock.now);
    expect((await durable.read()).mode).toBe('drained');
    expect(w.notifications.map((n) => n.type)).toEqual(['backend.drain.failed', 'backend.drain.completed']);
    expect(w.notifications[1]).toMatchObject({ subject: 'a', data: { backend: 'a', objects_moved: 0, failures: 2 } });
  }, DOMAIN_TEST_TIMEOUT_MS);
});
