/**
 * The fleet's last admin events: a bounded ring kept by one Durable Object (workers/admin-events.ts), so
 * `admin events` shows what every isolate audited, in one order. Each event gets the next sequence number; the
 * oldest is dropped once more than ADMIN_EVENTS_KEPT are held. Storage keys: `last` (the newest sequence number)
 * and `event:<seq, zero-padded>` (one event each, so listing by key is listing in order).
 */
import type { AuditRecord } from './audit.ts';

export const ADMIN_EVENTS_KEPT = 1000;

/** An audited admin action as the ring keeps it. */
export type AdminEvent = AuditRecord & { seq: number; time: string };
export type NewAdminEvent = Omit<AdminEvent, 'seq'>;

/** `last`: what to ask `after` next: the last event listed, or when none is, the newest there is. */
export interface AdminEventPage {
  events: AdminEvent[];
  last: number;
}

export interface AdminEventsRpc {
  append(event: NewAdminEvent): Promise<number>;
  /** Oldest first: the events after `after` or, without it, the newest `limit`. */
  page(after: number | undefined, limit: number): Promise<AdminEventPage>;
}

/** The part of a Durable Object's storage the ring uses (an in-memory one serves tests). */
export interface RingStorage {
  get<T>(key: string): Promise<T | undefined>;
  put<T>(entries: Record<string, T>): Promise<void>;
  delete(key: string): Promise<boolean>;
  list<T>(options: { prefix: string; start: string; limit: number }): Promise<Map<string, T>>;
}

const PREFIX = 'event:';
const eventKey = (seq: number) => `${PREFIX}${String(seq).padStart(16, '0')}`;

/**
 * The ring over its storage. A Durable Object runs one append at a time between storage calls (its input gate),
 * so sequence numbers are never handed out twice.
 */
export function adminEventRing(storage: RingStorage, kept = ADMIN_EVENTS_KEPT): AdminEventsRpc {
  const newest = async () => (await storage.get<number>('last')) ?? 0;
  return {
    async append(event) {
      const seq = (await newest()) + 1;
      await storage.put<unknown>({ last: seq, [eventKey(seq)]: { ...event, seq } });
      if (seq > kept) await storage.delete(eventKey(seq - kept));
      return seq;
    },
    async page(after, limit) {
      const last = await newest();
      const from = after === undefined ? Math.max(1, last - limit + 1) : after + 1;
      const events = [...(await storage.list<AdminEvent>({ prefix: PREFIX, start: eventKey(from), limit })).values()];
      return { events, last: events.at(-1)?.seq ?? last };
    },
  };
}

/** Storage in a Map, for tests and in-memory services. */
export function memoryRingStorage(): RingStorage {
  const entries = new Map<string, unknown>();
  return {
    get: async <T>(key: string) => entries.get(key) as T | undefined,
    put: async (values) => {
      for (const [key, value] of Object.entries(values)) entries.set(key, structuredClone(value));
    },
    delete: async (key) => entries.delete(key),
    list: async <T>({ prefix, start, limit }: { prefix: string; start: string; limit: number }) => {
      const keys = [...entries.keys()].filter((k) => k.startsWith(prefix) && k >= start).sort().slice(0, limit);
      return new Map(keys.map((k) => [k, entries.get(k) as T]));
    },
  };
}
