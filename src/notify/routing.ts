/** Which configured endpoints an event goes to: the types they asked for, and for data events their key prefix. */
import type { NotificationEndpoint } from '../config/types.ts';
import type { NotificationEvent } from './cloud-event.ts';
import { isDataEvent, patternMatches } from './event-types.ts';

export function wantsType(endpoint: Pick<NotificationEndpoint, 'events'>, type: string): boolean {
  return endpoint.events.some((pattern) => patternMatches(pattern, type));
}

export function endpointWants(endpoint: Pick<NotificationEndpoint, 'events' | 'prefix'>, event: Pick<NotificationEvent, 'type' | 'subject' | 'keys'>): boolean {
  if (!wantsType(endpoint, event.type)) return false;
  // The prefix is about object keys: a backend's name or a job id says nothing about them (the reference
  // compared it with every subject, so a prefix silently dropped every operational event).
  if (!isDataEvent(event.type) || endpoint.prefix === '') return true;
  const subjects = event.keys ?? [event.subject];
  return subjects.some((subject) => subject.startsWith(endpoint.prefix));
}

export function endpointsFor<E extends Pick<NotificationEndpoint, 'events' | 'prefix'>>(endpoints: readonly E[], event: NotificationEvent): E[] {
  return endpoints.filter((endpoint) => endpointWants(endpoint, event));
}
