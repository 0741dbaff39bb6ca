/**
 * Emitting a notification: the event gets its id and time now, and one queue message per endpoint that wants it
 * (so one slow endpoint's retries never resend to the others). Sending goes to waitUntil: no request, alarm or
 * job ever waits for the queue, and a failed send is logged and counted dropped rather than failing the work.
 */
import type { NotificationEndpoint } from '../config/types.ts';
import type { EventCounters } from '../observe/fleet-counters.ts';
import { type Logger, errorFields } from '../observe/log.ts';
import { type CloudEvent, type NotificationEvent, cloudEvent } from './cloud-event.ts';
import { countDropped } from './counters.ts';
import { endpointsFor } from './routing.ts';

/** A message on the notifications queue: one event for one endpoint, named as the configuration names it. */
export interface NotificationMessage {
  kind: 'notification';
  endpoint: string;
  event: CloudEvent;
}

/** The notifications queue's producer (Cloudflare Queues; an array in tests). */
export interface NotificationQueue {
  /** Up to 100 messages at once. */
  sendBatch(messages: readonly NotificationMessage[]): Promise<void>;
}

export interface Notifier {
  /**
   * Queues `event` for every endpoint that wants it. `endpoints` replaces the configured ones: a configuration
   * version announces its own activation to the endpoints it configures.
   */
  emit(event: NotificationEvent, endpoints?: readonly NotificationEndpoint[]): void;
}

export interface NotifierDeps {
  queue: NotificationQueue | undefined;
  endpoints: readonly NotificationEndpoint[];
  counters: EventCounters;
  log: Logger;
  now(): number;
  waitUntil(promise: Promise<unknown>): void;
}

export function createNotifier(deps: NotifierDeps): Notifier {
  return {
    emit(event, endpoints = deps.endpoints) {
      const targets = endpointsFor(endpoints, event);
      if (targets.length === 0) return;
      const wire = cloudEvent(event, deps.now());
      const messages = targets.map((endpoint): NotificationMessage => ({ kind: 'notification', endpoint: endpoint.name, event: wire }));
      const { queue } = deps;
      if (!queue) {
        deps.log.error('notification dropped: no notifications queue is bound (wrangler.toml NOTIFICATIONS)', { type: event.type, id: wire.id });
        countDropped(deps.counters, 'not_queued', messages.length);
        return;
      }
      deps.waitUntil(
        queue.sendBatch(messages).catch((err: unknown) => {
          deps.log.error('notification dropped: the queue refused it', { type: event.type, id: wire.id, ...errorFields(err) });
          countDropped(deps.counters, 'not_queued', messages.length);
        }),
      );
    },
  };
}

export function isNotificationMessage(body: unknown): body is NotificationMessage {
  if (!body || typeof body !== 'object') return false;
  const message = body as Partial<NotificationMessage>;
  return message.kind === 'notification' && typeof message.endpoint === 'string' && typeof message.event?.id === 'string' && typeof message.event.type === 'string';
}
