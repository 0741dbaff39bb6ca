/**
 * What a backend's Durable Object does when asked to drain, cancel, report or wake: the state machine
 * active -> draining -> drained (or back to active on cancel), kept in the object's storage and mirrored into
 * Postgres. workers/backend-state.ts only adapts the Durable Object API to this.
 */
import { createLogger, errorFields } from '../observe/log.ts';
import { type ActiveConfig, resolveActiveConfig } from '../runtime/active-config.ts';
import type { Bindings } from '../runtime/bindings.ts';
import { createServices, newRequestId } from '../runtime/services.ts';
import { readRuntimeSettings } from '../config/runtime-settings.ts';
import { DRAIN_RETRY_MS, drainStep } from '../jobs/drain.ts';
import { setBackendMode } from '../store/backend-states.ts';
import type { Db } from '../store/db.ts';
import { type BackendStateSnapshot, initialBackendState, newDrain } from './backend-state.ts';

/** The Durable Object's storage and alarm, as this module needs them. */
export interface DurableState {
  read(): Promise<StoredState>;
  write(state: StoredState): Promise<void>;
  setAlarm(at: number): Promise<void>;
  deleteAlarm(): Promise<void>;
  getAlarm(): Promise<number | null>;
}

export interface StoredState extends BackendStateSnapshot {
  /** The backend this object stands for (a Durable Object does not know the name it was looked up by). */
  backend?: string;
}

export type ControlResult = { ok: true; status: string; state: BackendStateSnapshot } | { ok: false; code: 404 | 409 | 503; error: string };

/** How long one alarm works before handing over to the next (alarms may run 15 minutes; this keeps steps short). */
const STEP_BUDGET_MS = 30_000;

export async function readState(durable: DurableState): Promise<StoredState> {
  return { ...initialBackendState(), ...(await durable.read()) };
}

export async function startDrain(durable: DurableState, backend: string, bindings: Bindings): Promise<ControlResult> {
  const setup = await prepare(bindings, backend);
  if (!setup.ok) return setup;
  const current = await readState(durable);
  if (current.mode === 'draining') {
    // Asking again is how an operator says "I made room, try now".
    await durable.setAlarm(Date.now());
    return { ok: true, status: 'already draining; retrying now', state: current };
  }
  if (current.mode === 'drained' || current.mode === 'removed') {
    return { ok: false, code: 409, error: `backend ${backend} is already ${current.mode}; remove it from the configuration (or drain-cancel to take it back)` };
  }
  // Postgres first: from the moment this commits, no write anywhere places a copy on the backend.
  await withDatabase(bindings, setup.active, (db) => setBackendMode(db, backend, 'draining'));
  const state: StoredState = { backend, mode: 'draining', drain: newDrain(current.drain, new Date()) };
  await durable.write(state);
  await durable.setAlarm(Date.now());
  log(setup.active).warn('drain started', { backend, generation: state.drain?.generation });
  return { ok: true, status: 'drain started', state };
}

/** Stops a drain (moved copies stay moved), or takes back a drained or removed backend: it takes writes again. */
export async function cancelDrain(durable: DurableState, backend: string, bindings: Bindings): Promise<ControlResult> {
  const setup = await prepare(bindings, backend);
  if (!setup.ok) return setup;
  const current = await readState(durable);
  if (current.mode === 'active') return { ok: false, code: 409, error: `backend ${backend} is not draining` };
  await withDatabase(bindings, setup.active, (db) => setBackendMode(db, backend, 'active'));
  const state: StoredState = {
    backend,
    mode: 'active',
    ...(current.drain ? { drain: current.mode === 'draining' ? { ...current.drain, cancelledAt: new Date().toISOString() } : current.drain } : {}),
  };
  await durable.write(state);
  await durable.deleteAlarm();
  log(setup.active).warn(current.mode === 'draining' ? 'drain cancelled' : 'backend taken back into placement', { backend, was: current.mode });
  return { ok: true, status: current.mode === 'draining' ? 'drain cancelled' : `backend was ${current.mode}; it takes writes again`, state };
}

/** Marks the backend removed (its records are gone); refused while it drains. */
export async function markRemoved(durable: DurableState, backend: string): Promise<ControlResult> {
  const current = await readState(durable);
  if (current.mode === 'draining') return { ok: false, code: 409, error: `backend ${backend} is draining; cancel the drain first (admin drain-cancel ${backend})` };
  const state: StoredState = { ...current, backend, mode: 'removed' };
  await durable.write(state);
  return { ok: true, status: 'removed', state };
}

/** The alarm: one drain step, then the next alarm (at once, later, or none when done). */
export async function runDrainAlarm(durable: DurableState, bindings: Bindings): Promise<void> {
  const state = await readState(durable);
  if (state.mode !== 'draining' || !state.drain || !state.backend) return;
  const backend = state.backend;
  const generation = state.drain.generation;
  const loaded = await resolveActiveConfig(bindings);
  if (!loaded.ok) {
    await durable.setAlarm(Date.now() + DRAIN_RETRY_MS);
    return;
  }
  const { services, close } = createServices(bindings, loaded.active, newRequestId(), await readRuntimeSettings(bindings.configStore));
  const logger = services.log.with({ backend, job: 'drain' });
  try {
    if (!loaded.active.config.backends.some((b) => b.name === backend)) {
      logger.error('drain paused: the backend is not in the configuration');
      await durable.setAlarm(Date.now() + DRAIN_RETRY_MS);
      return;
    }
    // Repairs the mirror if an earlier write to Postgres was lost.
    await setBackendMode(services.db(), backend, 'draining');
    const outcome = await drainStep(
      {
        backend,
        services: { ...services, log: logger },
        deadline: Date.now() + STEP_BUDGET_MS,
        save: async (progress) => {
          const current = await readState(durable);
          if (current.mode !== 'draining' || current.drain?.generation !== generation) return false;
          await durable.write({ ...current, drain: progress });
          return true;
        },
      },
      state.drain,
    );
    if (outcome.kind === 'continue') await durable.setAlarm(Date.now());
    if (outcome.kind === 'wait') await durable.setAlarm(Date.now() + outcome.ms);
    if (outcome.kind === 'done') {
      const current = await readState(durable);
      if (current.drain?.generation === generation) await durable.write({ ...current, mode: 'drained' });
      logger.warn('drain complete', { objects_moved: current.drain?.objectsMoved, bytes_moved: current.drain?.bytesMoved });
    }
  } catch (err) {
    // The database or a backend is away: try again later; nothing was half-done (every move is a CAS).
    logger.error('drain step failed; retrying', errorFields(err));
    const current = await readState(durable);
    if (current.mode === 'draining' && current.drain?.generation === generation) {
      await durable.write({ ...current, drain: { ...current.drain, failures: current.drain.failures + 1, lastError: errorFields(err).error as string, lastErrorAt: new Date().toISOString() } });
    }
    await durable.setAlarm(Date.now() + DRAIN_RETRY_MS);
  } finally {
    bindings.waitUntil(close().catch(() => {}));
  }
}

/** An alarm this far past its time did not fire (a local restart loses scheduled alarms); set it again. */
const OVERDUE_MS = 2_000;

/** The cron's nudge: a draining backend always has a live alarm pending. */
export async function ensureDrainAlarm(durable: DurableState): Promise<void> {
  const state = await readState(durable);
  if (state.mode !== 'draining') return;
  const at = await durable.getAlarm();
  if (at === null || at < Date.now() - OVERDUE_MS) await durable.setAlarm(Date.now());
}

type Prepared = { ok: true; active: ActiveConfig } | { ok: false; code: 404 | 503; error: string };

async function prepare(bindings: Bindings, backend: string): Promise<Prepared> {
  const loaded = await resolveActiveConfig(bindings);
  if (!loaded.ok) return { ok: false, code: 503, error: 'the orchestrator is not configured correctly; see its logs' };
  if (!loaded.active.config.backends.some((b) => b.name === backend)) {
    return { ok: false, code: 404, error: `no backend "${backend}" in the configuration` };
  }
  return { ok: true, active: loaded.active };
}

async function withDatabase<T>(bindings: Bindings, active: ActiveConfig, work: (db: Db) => Promise<T>): Promise<T> {
  const { services, close } = createServices(bindings, active, newRequestId());
  try {
    return await work(services.db());
  } finally {
    bindings.waitUntil(close().catch(() => {}));
  }
}

function log(active: ActiveConfig) {
  return createLogger(active.config.server.logLevel, { component: 'drain' });
}
