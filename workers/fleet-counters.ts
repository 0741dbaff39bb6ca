/** One Durable Object for the whole fleet's event totals (src/observe/fleet-counters.ts says what they are). */
import { DurableObject } from 'cloudflare:workers';
import type { FleetCountersRpc } from '../src/observe/fleet-counters.ts';
import type { Env } from './env.ts';

export const FLEET_COUNTERS_NAME = 'fleet';

export class FleetCounters extends DurableObject<Env> implements FleetCountersRpc {
  async add(deltas: Record<string, number>): Promise<void> {
    const counters = (await this.ctx.storage.get<Record<string, number>>('counters')) ?? {};
    for (const [counter, by] of Object.entries(deltas)) counters[counter] = (counters[counter] ?? 0) + by;
    await this.ctx.storage.put('counters', counters);
  }

  async counters(): Promise<Record<string, number>> {
    return (await this.ctx.storage.get<Record<string, number>>('counters')) ?? {};
  }
}
