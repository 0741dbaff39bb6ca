/** One Durable Object per backend: the home of its fleet-wide state. The logic is in src/backends/drain-control.ts. */
import { DurableObject } from 'cloudflare:workers';
import type { BackendStateSnapshot } from '../src/backends/backend-state.ts';
import type { BackendStateRpc } from '../src/backends/backend-state-rpc.ts';
import {
  type ControlResult,
  type DurableState,
  type StoredState,
  cancelDrain,
  ensureDrainAlarm,
  markRemoved,
  readState,
  runDrainAlarm,
  startDrain,
} from '../src/backends/drain-control.ts';
import { type RemoveResult, removeBackend } from '../src/backends/remove-backend.ts';
import { type BreakerStore, admitCall, breakerState, reportFailure, reportSuccess } from '../src/backends/breaker-control.ts';
import type { BreakerState } from '../src/backends/circuit-breaker.ts';
import { type StoredUsage, type UsageStore, currentUsage, flushUsage, recordUsage } from '../src/backends/usage-control.ts';
import type { Usage, UsageDelta } from '../src/backends/usage.ts';
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

  private bindings() {
    const bindings = bindingsFrom(this.env, (promise) => this.ctx.waitUntil(promise));
    // This object's own calls (a drain's reads and deletes on its backend, their usage and breaker reports) are
    // made in place: a stub to itself would queue each one as a new event behind the running alarm.
    const self = this.env.BACKEND_STATE.idFromName.bind(this.env.BACKEND_STATE);
    return { ...bindings, backendState: (name: string) => (self(name).equals(this.ctx.id) ? this : bindings.backendState(name)) };
  }

  async snapshot(): Promise<BackendStateSnapshot> {
    const { backend: _backend, ...snapshot } = await readState(this.durable);
    return snapshot;
  }

  startDrain(backend: string): Promise<ControlResult> {
    return startDrain(this.durable, backend, this.bindings());
  }

  cancelDrain(backend: string): Promise<ControlResult> {
    return cancelDrain(this.durable, backend, this.bindings());
  }

  markRemoved(backend: string): Promise<ControlResult> {
    return markRemoved(this.durable, backend);
  }

  removeBackend(backend: string, request: { purge: boolean; confirm?: string | undefined }): Promise<RemoveResult> {
    // One at a time, and never interleaved with a drain starting or being cancelled.
    return this.ctx.blockConcurrencyWhile(() =>
      removeBackend(this.durable, { get: (key) => this.ctx.storage.get(key), put: (key, value) => this.ctx.storage.put(key, value) }, backend, request, this.bindings()),
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
    const [breaker, usage] = await Promise.all([breakerState(this.breakerStore), currentUsage(this.usageStore)]);
    return { breaker, usage };
  }

  addUsage(backend: string, delta: UsageDelta): Promise<Usage> {
    return recordUsage(this.usageStore, backend, delta, this.bindings());
  }

  flushUsage(backend: string): Promise<void> {
    return flushUsage(this.usageStore, backend, this.bindings());
  }

  reportFailure(error: string): Promise<BreakerState> {
    return reportFailure(this.breakerStore, this.bindings(), error);
  }

  reportSuccess(): Promise<BreakerState> {
    return reportSuccess(this.breakerStore);
  }

  admitCall(): Promise<{ allowed: boolean; state: BreakerState }> {
    return admitCall(this.breakerStore);
  }

  async countDegradedRead(): Promise<number> {
    const total = ((await this.ctx.storage.get<number>('degraded-reads')) ?? 0) + 1;
    await this.ctx.storage.put('degraded-reads', total);
    return total;
  }

  async degradedReads(): Promise<number> {
    return (await this.ctx.storage.get<number>('degraded-reads')) ?? 0;
  }

  ensureAlarm(): Promise<void> {
    return ensureDrainAlarm(this.durable);
  }

  override async alarm(): Promise<void> {
    await runDrainAlarm(this.durable, this.bindings());
  }
}
