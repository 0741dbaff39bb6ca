/** A background job: `(services, input)` like every operation. Jobs must be idempotent: a cron tick may run twice. */
import type { Services } from '../services/services.ts';

export interface JobInput {
  /** When the cron tick was scheduled (ms since the epoch). */
  scheduledTime: number;
}

export type Job = (services: Services, input: JobInput) => Promise<void>;
