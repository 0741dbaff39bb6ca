/** The capacity warning: sent once a backend holds 80 % of its quota, then at most once an hour per backend. */
import { beforeAll, describe, expect, it } from 'vitest';
import { CAPACITY_WARNING_INTERVAL_MS } from '../../../src/backend-state/capacity-warning.ts';
import { capacityWatchJob } from '../../../src/jobs/capacity-watch.ts';
import { put } from '../support/domain-calls.ts';
import { DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

describe('capacity watch', () => {
  it('warns about a backend at 80 % of its quota at most hourly, and never about one below it or without a quota', async () => {
    const w = await domainServices({ backends: [{ name: 'small', quotaBytes: 1000 }, 'unlimited'] });
    const run = () => capacityWatchJob(w.services);
    await put(w, 'seven-hundred', new Uint8Array(700));
    await run();
    expect(w.notifications).toEqual([]);

    await put(w, 'one-hundred-more', new Uint8Array(100));
    await run();
    await run();
    expect(w.notifications).toEqual([
      {
        type: 'backend.capacity.warning',
        subject: 'small',
        data: { backend: 'small', stored_bytes: 800, quota_bytes: 1000, utilization: 0.8, threshold: 0.8 },
      },
    ]);

    w.clock.advance(CAPACITY_WARNING_INTERVAL_MS - 1);
    await run();
    expect(w.notifications).toHaveLength(1);
    w.clock.advance(1);
    await run();
    expect(w.notifications).toHaveLength(2);
  }, DOMAIN_TEST_TIMEOUT_MS);
});
