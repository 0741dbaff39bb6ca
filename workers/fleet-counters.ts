/** One Durable Object for the whole fleet's event totals (src/observe/fleet-counters.ts says what they are). */
import { DurableObject } from 'cloudflare:workers';
import type { FleetCountersRpc } from '../src/observe/fleet-counters.ts';
import type { Env } from './env.ts';

export const FLEET_COUNTERS_NAME = 'fleet';

export class FleetCounters extends DurableObject<Env> implements FleetCountersRpc {
  /** The totals, read from storage once when the object starts; every add writes them back. */
  private totals: Record<string, number> = {};

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.totals = (await ctx.storage.get<Record<string, number>>('counters')) ?? {};
    });
  }

  async add(deltas: Record<string, number>): Promise<void> {
    for (const [counter, by] of Object.entries(deltas)) this.totals[counter] = (this.totals[counter] ?? 0) + by;
    await this.ctx.storage.put('counters', this.totals);
  }

  async counters(): Promise<Record<string, number>> {
    return { ...this.totals };
  }
}
