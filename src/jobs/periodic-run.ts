/**
 * A background job that runs at most every `intervalMs` under its lease (src/store/leases.ts), as replication does:
 * a run happens when the interval has passed, when its settings or the deployment changed since the last run, when
 * the last run left work behind (`more`), or when forced. Concurrent ticks find the lease taken and skip; a run that
 * dies keeps the lease at most `leaseMs`, one that throws gives it back at once and counts as `runs_error`.
 */
import type { Services } from '../services/services.ts';
import { type JobLease, acquireLease, addJobCounters, freeLease, releaseLease } from '../store/leases.ts';

/** Who starts a run and when: a cron tick (its scheduled time), or a test or operator forcing one. */
export interface PeriodicInput {
  trigger: string;
  now?: number;
  force?: boolean;
}

export interface PeriodicJob {
  name: string;
  intervalMs: number;
  leaseMs: number;
  /** What the job runs with: a change makes the next tick run at once. */
  settings: unknown;
  /** Who starts the run, named in the lease. */
  trigger: string;
  /** The run's time (the cron tick's). */
  now: number;
  force?: boolean;
}

/** What a run reports back to its lease: whether work is left, and what to add to the job's totals. */
export interface PeriodicOutcome {
  more: boolean;
  add: Record<string, number>;
}

export type PeriodicRun<R> = { status: 'ran'; result: R } | { status: 'skipped'; reason: string };

export async function runWhenDue<R extends PeriodicOutcome>(services: Services, job: PeriodicJob, work: (runAt: Date, lease: JobLease) => Promise<R>): Promise<PeriodicRun<R>> {
  const db = services.db();
  const settings = JSON.stringify({ settings: job.settings, deployment: services.deployment });
  const holder = `${job.trigger} run ${crypto.randomUUID().slice(0, 8)}`;
  const runAt = new Date(job.now);
  const lease = await acquireLease(db, job.name, holder, job.leaseMs, runAt);
  if (!lease) return { status: 'skipped', reason: `another ${job.name} run is in progress` };
  let result: R;
  try {
    const due =
      job.force === true ||
      lease.more ||
      lease.lastSettings !== settings ||
      !lease.lastRunAt ||
      runAt.getTime() - lease.lastRunAt.getTime() >= job.intervalMs;
    if (!due) {
      await freeLease(db, job.name, holder);
      return { status: 'skipped', reason: 'not due yet' };
    }
    result = await work(runAt, lease);
  } catch (err) {
    await freeLease(db, job.name, holder).catch(() => {});
    // A run that could not finish (the database away) still counts, as an error.
    await addJobCounters(db, job.name, { runs_error: 1 }).catch(() => {});
    throw err;
  }
  await releaseLease(db, job.name, holder, { lastRunAt: runAt, lastSettings: settings, cursor: null, more: result.more, add: result.add });
  return { status: 'ran', result };
}
