/**
 * What a backend's Durable Object does when asked to drain, cancel, report or wake: the state machine
 * active -> draining -> drained (or back to active on cancel), kept in the object's storage and mirrored into
 * Postgres. workers/backend-state.ts only adapts the Durable Object API to this.
 */
import type { BackendStateSnapshot, DrainProgress } from '../backends/backend-state.ts';
import { initialBackendState, newDrain } from '../backends/backend-state.ts';
import type { ControlResult } from '../backends/backend-state-rpc.ts';
import { errorFields } from '../observe/log.ts';
import { type OpenServices, type Services, withServices } from '../services/services.ts';
import { setBackendMode } from '../store/backend-states.ts';
import { DRAIN_RETRY_MS, drainStep } from './drain-step.ts';

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

/** How long one alarm works before handing over to the next (alarms may run 15 minutes; this keeps steps short). */
const STEP_BUDGET_MS = 30_000;

export const UNCONFIGURED = { ok: false, reason: 'unconfigured', error: 'the orchestrator is not configured correctly; see its logs' } as const;

export async function readState(durable: DurableState): Promise<StoredState> {
  return { ...initialBackendState(), ...(await durable.read()) };
}

/** Runs a control command for a backend the configuration names, with services and the object's current state. */
function controlConfigured(
  durable: DurableState,
  backend: string,
  open: OpenServices,
  command: (services: Services, current: StoredState) => Promise<ControlResult>,
): Promise<ControlResult> {
  return withServices<ControlResult>(
    open,
    async (services) => (configured(services, backend) ? command(services, await readState(durable)) : unknownBackend(backend)),
    () => UNCONFIGURED,
  );
}

export function startDrain(durable: DurableState, backend: string, open: OpenServices): Promise<ControlResult> {
  return controlConfigured(durable, backend, open, async (services, current) => {
    if (current.mode === 'draining') {
      // Asking again is how an operator says "I made room, try now".
      await durable.setAlarm(services.now());
      return { ok: true, status: 'already draining; retrying now', state: current };
    }
    if (current.mode === 'drained' || current.mode === 'removed') {
      return { ok: false, reason: 'conflict', error: `backend ${backend} is already ${current.mode}; remove it from the configuration (or drain-cancel to take it back)` };
    }
    // Postgres first: from the moment this commits, no write anywhere places a copy on the backend.
    await setBackendMode(services.db(), backend, 'draining');
    const state: StoredState = { backend, mode: 'draining', drain: newDrain(current.drain, new Date(services.now())) };
    await durable.write(state);
    await durable.setAlarm(services.now());
    services.log.warn('drain started', { backend, generation: state.drain?.generation });
    return { ok: true, status: 'drain started', state };
  });
}

/** Stops a drain (moved copies stay moved), or takes back a drained or removed backend: it takes writes again. */
export function cancelDrain(durable: DurableState, backend: string, open: OpenServices): Promise<ControlResult> {
  return controlConfigured(durable, backend, open, async (services, current) => {
    if (current.mode === 'active') return { ok: false, reason: 'conflict', error: `backend ${backend} is not draining` };
    await setBackendMode(services.db(), backend, 'active');
    const cancelledAt = new Date(services.now()).toISOString();
    const state: StoredState = {
      backend,
      mode: 'active',
      ...(current.drain ? { drain: current.mode === 'draining' ? { ...current.drain, cancelledAt } : current.drain } : {}),
    };
    await durable.write(state);
    await durable.deleteAlarm();
    services.log.warn(current.mode === 'draining' ? 'drain cancelled' : 'backend taken back into placement', { backend, was: current.mode });
    return { ok: true, status: current.mode === 'draining' ? 'drain cancelled' : `backend was ${current.mode}; it takes writes again`, state };
  });
}

/** Marks the backend removed (its records are gone); refused while it drains. */
export async function markRemoved(durable: DurableState, backend: string): Promise<ControlResult> {
  const current = await readState(durable);
  if (current.mode === 'draining') return { ok: false, reason: 'conflict', error: `backend ${backend} is draining; cancel the drain first (admin drain-cancel ${backend})` };
  const state: StoredState = { ...current, backend, mode: 'removed' };
  await durable.write(state);
  return { ok: true, status: 'removed', state };
}

/** The alarm: one drain step, then the next alarm (at once, later, or none when done). */
export async function runDrainAlarm(durable: DurableState, open: OpenServices, now: () => number): Promise<void> {
  const state = await readState(durable);
  if (state.mode !== 'draining' || !state.drain || !state.backend) return;
  const backend = state.backend;
  const generation = state.drain.generation;
  const retryLater = () => durable.setAlarm(now() + DRAIN_RETRY_MS);
  await withServices(
    open,
    async (services): Promise<void> => {
      const log = services.log.with({ backend, job: 'drain' });
      if (!configured(services, backend)) {
        log.error('drain paused: the backend is not in the configuration');
        await retryLater();
        return;
      }
      try {
        // Repairs the mirror if an earlier write to Postgres was lost.
        await setBackendMode(services.db(), backend, 'draining');
        const isCurrent = (current: StoredState) => current.mode === 'draining' && current.drain?.generation === generation;
        const save = async (progress: NonNullable<StoredState['drain']>) => {
          const current = await readState(durable);
          if (!isCurrent(current)) return false;
          await durable.write({ ...current, drain: progress });
          return true;
        };
        const stillCurrent = async () => isCurrent(await readState(durable));
        const outcome = await drainStep({ ...services, log }, { backend, deadline: services.now() + STEP_BUDGET_MS, save, current: stillCurrent }, state.drain!);
        if (outcome.kind === 'continue') await durable.setAlarm(services.now());
        if (outcome.kind === 'wait') await durable.setAlarm(services.now() + outcome.ms);
        if (outcome.kind === 'wait') await announceTrouble(services, durable, generation);
        if (outcome.kind === 'done') {
          const current = await readState(durable);
          if (current.drain?.generation === generation) await durable.write({ ...current, mode: 'drained' });
          log.warn('drain complete', { objects_moved: current.drain?.objectsMoved, bytes_moved: current.drain?.bytesMoved });
          if (current.drain) services.notify.emit({ type: 'backend.drain.completed', subject: backend, data: { backend, ...drainFigures(current.drain) } });
        }
      } catch (err) {
        // The database or a backend is away: try again later; nothing was half-done (every move is a CAS).
        log.error('drain step failed; retrying', errorFields(err));
        const current = await readState(durable);
        if (current.mode === 'draining' && current.drain?.generation === generation) {
          const lastErrorAt = new Date(services.now()).toISOString();
          await durable.write({ ...current, drain: { ...current.drain, failures: current.drain.failures + 1, lastError: errorFields(err).error as string, lastErrorAt } });
          await announceTrouble(services, durable, generation);
        }
        await retryLater();
      }
    },
    retryLater,
  );
}

/**
 * `backend.drain.failed`, once per drain: the first time a step fails or a pass leaves copies it could not move.
 * The drain itself keeps retrying (and `backend.drain.completed` follows if it gets there); the event tells an
 * operator to look (`admin drain-status`), without one message per retry.
 */
async function announceTrouble(services: Services, durable: DurableState, generation: number): Promise<void> {
  const current = await readState(durable);
  const drain = current.drain;
  if (current.mode !== 'draining' || !drain || drain.generation !== generation || drain.troubleAnnounced || !current.backend) return;
  await durable.write({ ...current, drain: { ...drain, troubleAnnounced: true } });
  const backend = current.backend;
  services.notify.emit({
    type: 'backend.drain.failed',
    subject: backend,
    data: { backend, ...drainFigures(drain), last_error: drain.lastError ?? null, waiting_for_space: drain.waitingForSpace, still_retrying: true },
  });
}

function drainFigures(drain: DrainProgress): Record<string, string | number> {
  return { started_at: drain.startedAt, objects_moved: drain.objectsMoved, bytes_moved: drain.bytesMoved, copies_dropped: drain.copiesDropped, failures: drain.failures };
}

/** An alarm this far past its time did not fire (a local restart loses scheduled alarms); set it again. */
const OVERDUE_MS = 2_000;

/** The cron's nudge: a draining backend always has a live alarm pending. */
export async function ensureDrainAlarm(durable: DurableState, now: number): Promise<void> {
  const state = await readState(durable);
  if (state.mode !== 'draining') return;
  const at = await durable.getAlarm();
  if (at === null || at < now - OVERDUE_MS) await durable.setAlarm(now);
}

export function configured(services: Services, backend: string): boolean {
  return services.config.backends.some((b) => b.name === backend);
}

function unknownBackend(backend: string) {
  return { ok: false, reason: 'unknown-backend', error: `no backend "${backend}" in the configuration` } as const;
}
