/**
 * One Durable Object per backend: the home of its fleet-wide state. The logic is in src/backend-state/; this class
 * only adapts the Durable Object API (storage, alarms) to it. Storage keys: docs/storage-layout.md.
 */
import { DurableObject } from 'cloudflare:workers';
import type { BackendStateSnapshot } from '../src/backends/backend-state.ts';
import type { BackendStateRpc, ControlResult, RemoveResult } from '../src/backends/backend-state-rpc.ts';
import type { BreakerState } from '../src/backends/circuit-breaker.ts';
import type { Usage, UsageDelta } from '../src/backends/usage.ts';
import {
  type DurableState,
  type StoredState,
  cancelDrain,
  ensureDrainAlarm,
  markRemoved,
  readState,
  runDrainAlarm,
  startDrain,
} from '../src/backend-state/drain-control.ts';
import { removeBackend } from '../src/backend-state/remove-backend.ts';
import { claimCapacityWarning } from '../src/backend-state/capacity-warning.ts';
import { type Announce, type BreakerStore, DEFAULT_BREAKER, admitCall, breakerState, reportFailure, reportSuccess } from '../src/backend-state/breaker-control.ts';
import { type StoredUsage, type UsageStore, currentUsage, flushUsage, recordUsage } from '../src/backend-state/usage-control.ts';
import { resolveActiveConfig } from '../src/runtime/active-config.ts';
import type { Bindings } from '../src/runtime/bindings.ts';
import { notifierFor, servicesOpener } from '../src/runtime/services.ts';
import type { OpenServices } from '../src/services/services.ts';
import { bindingsFrom } from './bindings.ts';
import type { Env } from './env.ts';

export class BackendState extends DurableObject<Env> implements BackendStateRpc {
  private readonly durable: DurableState = {
    read: async () => (await this.ctx.storage.get<StoredState>('state')) ?? { mode: 'active' },
    write: (state) => this.ctx.storage.put('state', state),
    setAlarm: (at) => this.ctx.storage.setAlarm(at),
    deleteAlarm: () => this.ctx.storage.deleteAlarm(),
    getAlarm: () => this.ctx.storage.getAlarm(),
  };

  private bindings(): Bindings {
    const bindings = bindingsFrom(this.env, (promise) => this.ctx.waitUntil(promise));
    // This object's own calls (a drain's reads and deletes on its backend, their usage and breaker reports) are
    // made in place: a stub to itself would queue each one as a new event behind the running alarm.
    const self = this.env.BACKEND_STATE.idFromName.bind(this.env.BACKEND_STATE);
    return { ...bindings, backendState: (name: string) => (self(name).equals(this.ctx.id) ? this : bindings.backendState(name)) };
  }

  private open(operation: string): OpenServices {
    return servicesOpener(this.bindings(), { component: 'backend-state', operation });
  }

  async snapshot(): Promise<BackendStateSnapshot> {
    const { backend: _backend, ...snapshot } = await readState(this.durable);
    return snapshot;
  }

  startDrain(backend: string): Promise<ControlResult> {
    return startDrain(this.durable, backend, this.open('drain'));
  }

  cancelDrain(backend: string): Promise<ControlResult> {
    return cancelDrain(this.durable, backend, this.open('drain-cancel'));
  }

  markRemoved(backend: string): Promise<ControlResult> {
    return markRemoved(this.durable, backend);
  }

  removeBackend(backend: string, request: { purge: boolean; confirm?: string | undefined }): Promise<RemoveResult> {
    // One at a time, and never interleaved with a drain starting or being cancelled.
    return this.ctx.blockConcurrencyWhile(() =>
      removeBackend(this.durable, { get: (key) => this.ctx.storage.get(key), put: (key, value) => this.ctx.storage.put(key, value) }, backend, request, this.open('remove-backend')),
    );
  }

  private readonly breakerStore: BreakerStore = {
    get: () => this.ctx.storage.get<BreakerState>('breaker'),
    put: (state) => this.ctx.storage.put('breaker', state),
  };

  breaker(): Promise<BreakerState> {
    return breakerState(this.breakerStore);
  }

  private readonly usageStore: UsageStore = {
    get: () => this.ctx.storage.get<StoredUsage>('usage'),
    put: (value) => this.ctx.storage.put('usage', value),
  };

  async status(): Promise<{ breaker: BreakerState; usage: Usage }> {
    const [breaker, usage] = await Promise.all([breakerState(this.breakerStore), currentUsage(this.usageStore, Date.now())]);
    return { breaker, usage };
  }

  addUsage(backend: string, delta: UsageDelta): Promise<Usage> {
    const bindings = this.bindings();
    const settings = async () => {
      // The configuration is cached per isolate: no services (and no database) for a report that flushes nothing.
      const loaded = await resolveActiveConfig(bindings);
      if (!loaded.ok) return undefined;
      const { config } = loaded.active;
      return { usageFlush: config.usageFlush, limits: config.backends.find((b) => b.name === backend) };
    };
    const open = servicesOpener(bindings, { component: 'backend-state', operation: 'usage' });
    return recordUsage(this.usageStore, backend, delta, { settings, open, background: (work) => this.ctx.waitUntil(work) }, Date.now());
  }

  flushUsage(backend: string): Promise<void> {
    return flushUsage(this.usageStore, backend, this.open('usage'), Date.now());
  }

  async reportFailure(backend: string, error: string): Promise<BreakerState> {
    // The configuration is cached per isolate, so this costs no KV read on most reports.
    const bindings = this.bindings();
    const loaded = await resolveActiveConfig(bindings);
    const settings = loaded.ok ? loaded.active.config.circuitBreaker : DEFAULT_BREAKER;
    return reportFailure(this.breakerStore, settings, { backend, error, now: Date.now() }, this.announcer(bindings));
  }

  reportSuccess(backend: string): Promise<BreakerState> {
    const bindings = this.bindings();
    return reportSuccess(this.breakerStore, backend, Date.now(), this.announcer(bindings));
  }

  /** Notifications under the configuration in effect, looked up only when there is one to send. */
  private announcer(bindings: Bindings): Announce {
    return (event) => {
      const sent = resolveActiveConfig(bindings).then((loaded) => {
        if (loaded.ok) notifierFor(bindings, loaded.active.config).emit(event);
      });
      this.ctx.waitUntil(sent.catch(() => {}));
    };
  }

  admitCall(): Promise<{ allowed: boolean; state: BreakerState }> {
    return admitCall(this.breakerStore, Date.now());
  }

  async countDegradedRead(): Promise<number> {
    const total = ((await this.ctx.storage.get<number>('degraded-reads')) ?? 0) + 1;
    await this.ctx.storage.put('degraded-reads', total);
    return total;
  }

  async degradedReads(): Promise<number> {
    return (await this.ctx.storage.get<number>('degraded-reads')) ?? 0;
  }

  claimCapacityWarning(now: number): Promise<boolean> {
    return claimCapacityWarning({ get: () => this.ctx.storage.get<number>('capacity-warned-at'), put: (at) => this.ctx.storage.put('capacity-warned-at', at) }, now);
  }

  ensureAlarm(): Promise<void> {
    return ensureDrainAlarm(this.durable, Date.now());
  }

  override async alarm(): Promise<void> {
    await runDrainAlarm(this.durable, this.open('drain'), () => Date.now());
  }
}
