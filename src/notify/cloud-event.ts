/**
 * A notification as it goes over the wire: a CloudEvents 1.0 event in the structured JSON mode
 * (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md). Its `id` is made once, when
 * the event happens, and travels with every retry, so a receiver can drop the duplicates at-least-once delivery
 * allows.
 */
import { randomHex } from '../crypto/encoding.ts';
import type { EventType } from './event-types.ts';

export const EVENT_SOURCE = '/s3-orchestrator';
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json';

/** A JSON value, as event data may hold. */
export type EventData = Readonly<Record<string, string | number | boolean | null | readonly string[]>>;

/** What happened, as the code that saw it says it. */
export interface NotificationEvent {
  type: EventType;
  /** `bucket/key` for data events; the backend's name, the config version or the job id for the others. */
  subject: string;
  data: EventData;
  /** For a DeleteBatch: the keys it removed, which an endpoint's `prefix` is checked against. */
  keys?: readonly string[];
}

export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: EventType;
  time: string;
  subject: string;
  datacontenttype: 'application/json';
  data: EventData;
}

export function cloudEvent(event: NotificationEvent, now: number, id = newEventId()): CloudEvent {
  return {
    specversion: '1.0',
    id,
    source: EVENT_SOURCE,
    type: event.type,
    time: new Date(now).toISOString(),
    subject: event.subject,
    datacontenttype: 'application/json',
    data: event.data,
  };
}

/** `evt_` and 128 random bits: unique without coordination between isolates. */
export function newEventId(): string {
  return `evt_${randomHex(16)}`;
}
