/** One Durable Object for the whole fleet's last admin events (src/observe/admin-events.ts says how they are kept). */
import { DurableObject } from 'cloudflare:workers';
import { type AdminEventPage, type AdminEventsRpc, type NewAdminEvent, adminEventRing } from '../src/observe/admin-events.ts';
import type { Env } from './env.ts';

export const ADMIN_EVENTS_NAME = 'fleet';

export class AdminEvents extends DurableObject<Env> implements AdminEventsRpc {
  private readonly ring = adminEventRing(this.ctx.storage);

  append(event: NewAdminEvent): Promise<number> {
    return this.ring.append(event);
  }

  page(after: number | undefined, limit: number): Promise<AdminEventPage> {
    return this.ring.page(after, limit);
  }
}
