/** What every background job receives. Jobs must be idempotent: a cron tick or message may run twice. */
import type { BackendStateRpc } from '../backends/backend-state-rpc.ts';
import type { BackendHealth } from '../backends/backend-health.ts';
import type { BackendClient } from '../backends/client.ts';
import type { Config } from '../config/types.ts';
import type { Logger } from '../observe/log.ts';
import type { Db } from '../store/db.ts';

export interface JobContext {
  config: Config;
  db(): Db;
  log: Logger;
  scheduledTime: number;
  backendState(backendName: string): BackendStateRpc;
  /** A configured backend's client, or undefined for a name the configuration no longer has. */
  backend(backendName: string): BackendClient | undefined;
  /** Changes with every deployment (a digest of the deployed configuration). */
  deployment: string;
  health: BackendHealth;
  /** Adds to a fleet-wide event total for /metrics. */
  countEvent(counter: string, by?: number): void;
}

export type Job = (context: JobContext) => Promise<void>;
