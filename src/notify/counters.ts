/**
 * The fleet counters behind s3o_notification_{sent,failed,dropped}_total (src/observe/fleet-counters.ts):
 * "notification_sent:<endpoint> <event type>" and the like. A space joins the two labels because neither an
 * endpoint name (config/schema-notifications.ts) nor an event type can hold one.
 */
import type { EventCounters } from '../observe/fleet-counters.ts';
import type { MetricFamily } from '../observe/metrics.ts';

export const SENT_COUNTER = 'notification_sent';
export const FAILED_COUNTER = 'notification_failed';
export const DROPPED_COUNTER = 'notification_dropped';
export const LABEL_SEPARATOR = ' ';

/** Why an event never reached an endpoint. */
export type DropReason = 'dead_lettered' | 'unroutable' | 'not_queued';

export function countAttempt(counters: EventCounters, outcome: 'sent' | 'failed', endpoint: string, type: string): void {
  counters.add(`${outcome === 'sent' ? SENT_COUNTER : FAILED_COUNTER}:${endpoint}${LABEL_SEPARATOR}${type}`);
}

export function countDropped(counters: EventCounters, reason: DropReason, by = 1): void {
  counters.add(`${DROPPED_COUNTER}:${reason}`, by);
}

/** The three s3o_notification_* families, read from the fleet counters. */
export function notificationFamilies(fleet: Readonly<Record<string, number>>): MetricFamily[] {
  const attempts = (prefix: string) =>
    Object.entries(fleet)
      .filter(([name]) => name.startsWith(`${prefix}:`))
      .map(([name, value]) => {
        const [endpoint = '', type = ''] = name.slice(prefix.length + 1).split(LABEL_SEPARATOR);
        return { labels: { endpoint, event_type: type }, value };
      });
  const dropped = Object.entries(fleet)
    .filter(([name]) => name.startsWith(`${DROPPED_COUNTER}:`))
    .map(([name, value]) => ({ labels: { reason: name.slice(DROPPED_COUNTER.length + 1) }, value }));
  return [
    { name: 's3o_notification_sent_total', help: 'Webhook deliveries an endpoint took (2xx), by endpoint and event type', type: 'counter', samples: attempts(SENT_COUNTER) },
    { name: 's3o_notification_failed_total', help: 'Failed webhook delivery attempts (each is retried until max_retries), by endpoint and event type', type: 'counter', samples: attempts(FAILED_COUNTER) },
    { name: 's3o_notification_dropped_total', help: 'Notifications never delivered: dead-lettered, unroutable (endpoint gone from the config) or not queued', type: 'counter', samples: dropped },
  ];
}
