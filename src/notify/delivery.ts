/**
 * The notifications queue's consumer: POSTs each message's event to its endpoint, as the configuration in effect
 * describes that endpoint now (an endpoint removed since, or no longer wanting the type, gets nothing: the message
 * is acknowledged and counted dropped). A 2xx within DELIVERY_TIMEOUT_MS is done; anything else is retried with a
 * growing delay, and after the queue's max_retries Cloudflare moves the message to the dead-letter queue, whose
 * consumer logs and counts it. At least once: a 2xx that is lost on the way back means the event is sent again.
 */
import { KV_REFRESH_MS } from '../config/config-store.ts';
import type { NotificationEndpoint } from '../config/types.ts';
import type { EventCounters } from '../observe/fleet-counters.ts';
import { type Logger, errorFields } from '../observe/log.ts';
import { CLOUDEVENTS_CONTENT_TYPE } from './cloud-event.ts';
import { countAttempt, countDropped } from './counters.ts';
import { type NotificationMessage, isNotificationMessage } from './notifier.ts';
import { wantsType } from './routing.ts';
import { SIGNATURE_HEADER, signBody } from './signature.ts';

/** How long a receiver may take to answer before the attempt counts as failed. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** The longest wait between two attempts, however many have failed. */
export const MAX_RETRY_DELAY_MS = 300_000;

/** A queue message as the consumer sees it (Cloudflare's Message). */
export interface DeliveryMessage {
  body: unknown;
  attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

export interface DeliveryDeps {
  endpoints: readonly NotificationEndpoint[];
  retryDelayMs: number;
  counters: EventCounters;
  log: Logger;
  fetch(request: Request): Promise<Response>;
  now(): number;
}

/** Seconds before the next attempt once `attempts` (1 for the first delivery) have failed: doubling, capped. */
export function retryDelaySeconds(attempts: number, baseMs: number): number {
  const ms = Math.min(baseMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS);
  return Math.ceil(ms / 1000);
}

/** Delivers a batch from the notifications queue; every message is acknowledged or retried, none left open. */
export async function deliverNotifications(deps: DeliveryDeps, messages: readonly DeliveryMessage[]): Promise<void> {
  await Promise.all(messages.map((message) => deliverOne(deps, message)));
}

async function deliverOne(deps: DeliveryDeps, message: DeliveryMessage): Promise<void> {
  const body = message.body;
  if (!isNotificationMessage(body)) {
    deps.log.warn('unknown notification message acknowledged', { body });
    message.ack();
    return;
  }
  const log = deps.log.with({ endpoint: body.endpoint, event_id: body.event.id, type: body.event.type, attempts: message.attempts });
  const endpoint = deps.endpoints.find((e) => e.name === body.endpoint);
  // The prefix was checked when the event was queued (a batch's keys are not all in its message).
  if (!endpoint || !wantsType(endpoint, body.event.type)) {
    if (mayBeNewerThanThisIsolate(deps, body)) {
      // A version activated a moment ago (this one may announce it) reaches this isolate within KV_REFRESH_MS.
      log.info('notification for an endpoint this isolate does not know yet; retried once its configuration is fresh');
      message.retry({ delaySeconds: Math.ceil(KV_REFRESH_MS / 1000) });
      return;
    }
    log.warn('notification dropped: the endpoint is no longer configured for it');
    countDropped(deps.counters, 'unroutable');
    message.ack();
    return;
  }
  const problem = await post(deps, endpoint, body);
  if (problem === undefined) {
    countAttempt(deps.counters, 'sent', endpoint.name, body.event.type);
    message.ack();
    return;
  }
  countAttempt(deps.counters, 'failed', endpoint.name, body.event.type);
  const delaySeconds = retryDelaySeconds(message.attempts, deps.retryDelayMs);
  log.warn('notification delivery failed; retried later', { ...problem, retry_in_seconds: delaySeconds });
  message.retry({ delaySeconds });
}

function mayBeNewerThanThisIsolate(deps: DeliveryDeps, message: NotificationMessage): boolean {
  return deps.now() - Date.parse(message.event.time) < 2 * KV_REFRESH_MS;
}

/** POSTs the event; undefined when the receiver took it (2xx), else what went wrong. */
async function post(deps: DeliveryDeps, endpoint: NotificationEndpoint, message: NotificationMessage): Promise<Record<string, unknown> | undefined> {
  const body = new TextEncoder().encode(JSON.stringify(message.event));
  const headers = new Headers({ 'content-type': CLOUDEVENTS_CONTENT_TYPE });
  if (endpoint.secret !== undefined) headers.set(SIGNATURE_HEADER, await signBody(endpoint.secret, body));
  try {
    const response = await deps.fetch(new Request(endpoint.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) }));
    await response.body?.cancel();
    return response.ok ? undefined : { status: response.status };
  } catch (err) {
    return errorFields(err);
  }
}

/** The dead-letter queue's consumer: every message there is an event an endpoint never took. */
export function dropDeadLetters(deps: Pick<DeliveryDeps, 'counters' | 'log'>, messages: readonly DeliveryMessage[]): void {
  for (const message of messages) {
    const body = message.body;
    const fields = isNotificationMessage(body) ? { endpoint: body.endpoint, event_id: body.event.id, type: body.event.type, subject: body.event.subject } : { body };
    deps.log.error('notification dead-lettered: every attempt failed; dropped', fields);
    countDropped(deps.counters, 'dead_lettered');
    message.ack();
  }
}
