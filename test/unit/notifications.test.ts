/**
 * Webhook notifications without a Worker: which endpoints an event goes to, its CloudEvents shape, the signature
 * (checked with node:crypto, independently of the WebCrypto code that makes it), the retry schedule, what the
 * queue consumer does with each answer, and the configuration's checks.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';
import type { NotificationEndpoint } from '../../src/config/types.ts';
import { type NotificationEvent, cloudEvent } from '../../src/notify/cloud-event.ts';
import { notificationFamilies } from '../../src/notify/counters.ts';
import { type DeliveryMessage, deliverNotifications, dropDeadLetters, retryDelaySeconds } from '../../src/notify/delivery.ts';
import { patternMatches } from '../../src/notify/event-types.ts';
import { type NotificationMessage, createNotifier } from '../../src/notify/notifier.ts';
import { endpointWants } from '../../src/notify/routing.ts';
import { signBody } from '../../src/notify/signature.ts';
import type { Logger } from '../../src/observe/log.ts';
import { BASE_DOCUMENT } from './support/config-document.ts';

const BASE = BASE_DOCUMENT;

function load(notifications: string, vars: Record<string, string> = {}) {
  return loadConfig(`${BASE}notifications:\n${notifications}`, vars);
}

function problems(notifications: string): string[] {
  const result = load(notifications);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

function endpoints(notifications: string, vars: Record<string, string> = {}): NotificationEndpoint[] {
  const result = load(notifications, vars);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.config.notifications.endpoints;
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, with: () => silent };
const put = (subject = 'photos/2026/a.jpg'): NotificationEvent => ({ type: 's3:ObjectCreated:Put', subject, data: { bucket: 'photos', key: subject.slice(7) } });
const opened: NotificationEvent = { type: 'backend.circuit.opened', subject: 'b1', data: { backend: 'b1' } };

describe('which endpoints an event goes to', () => {
  it('matches "*", trailing-* prefixes and exact types, and nothing else', () => {
    expect(patternMatches('*', 'backend.removed')).toBe(true);
    expect(patternMatches('s3:ObjectCreated:*', 's3:ObjectCreated:Copy')).toBe(true);
    expect(patternMatches('s3:ObjectCreated:*', 's3:ObjectRemoved:Delete')).toBe(false);
    expect(patternMatches('backend.*', 'backend.drain.failed')).toBe(true);
    expect(patternMatches('s3:ObjectRemoved:Delete', 's3:ObjectRemoved:Delete')).toBe(true);
    expect(patternMatches('s3:ObjectRemoved:Delete', 's3:ObjectRemoved:DeleteBatch')).toBe(false);
  });

  it('filters data events by the bucket/key prefix, and never operational events', () => {
    const filtered = { events: ['*'], prefix: 'photos/2026/' };
    expect(endpointWants(filtered, put('photos/2026/a.jpg'))).toBe(true);
    expect(endpointWants(filtered, put('photos/2025/a.jpg'))).toBe(false);
    // A backend name that does not start with the prefix still gets through (the reference dropped it).
    expect(endpointWants(filtered, opened)).toBe(true);
    expect(endpointWants({ events: ['s3:*'], prefix: 'photos/2026/' }, opened)).toBe(false);
  });

  it('sends a DeleteBatch to a prefixed endpoint when any of its keys is under the prefix', () => {
    const batch = (keys: string[]): NotificationEvent => ({ type: 's3:ObjectRemoved:DeleteBatch', subject: 'photos', data: {}, keys });
    const filtered = { events: ['s3:ObjectRemoved:*'], prefix: 'photos/2026/' };
    expect(endpointWants(filtered, batch(['photos/2025/x', 'photos/2026/y']))).toBe(true);
    expect(endpointWants(filtered, batch(['photos/2025/x']))).toBe(false);
  });
});

describe('the CloudEvent', () => {
  it('has exactly the CloudEvents 1.0 attributes, a unique id and the time it happened', () => {
    const at = Date.UTC(2026, 10, 5, 12, 0, 0);
    const first = cloudEvent(put(), at);
    const second = cloudEvent(put(), at);
    expect(Object.keys(first).sort()).toEqual(['data', 'datacontenttype', 'id', 'source', 'specversion', 'subject', 'time', 'type']);
    expect(first).toMatchObject({
      specversion: '1.0',
      source: '/s3-orchestrator',
      type: 's3:ObjectCreated:Put',
      time: '2026-11-05T12:00:00.000Z',
      subject: 'photos/2026/a.jpg',
      datacontenttype: 'application/json',
      data: { bucket: 'photos', key: '2026/a.jpg' },
    });
    expect(first.id).toMatch(/^evt_[0-9a-f]{32}$/);
    expect(second.id).not.toBe(first.id);
  });
});

describe('the signature', () => {
  it('is sha256=<hex HMAC-SHA256(secret, body)> over the exact bytes', async () => {
    const body = new TextEncoder().encode(JSON.stringify(cloudEvent(put(), 0)));
    const expected = `sha256=${createHmac('sha256', 'webhook-secret').update(body).digest('hex')}`;
    expect(await signBody('webhook-secret', body)).toBe(expected);
    expect(await signBody('another-secret', body)).not.toBe(expected);
  });
});

describe('the retry schedule', () => {
  it('doubles from retry_delay with each failed attempt, capped at five minutes', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10].map((attempts) => retryDelaySeconds(attempts, 10_000))).toEqual([10, 20, 40, 80, 160, 300, 300, 300]);
    expect(retryDelaySeconds(1, 0)).toBe(0);
    expect(retryDelaySeconds(3, 1500)).toBe(6);
  });
});

/** A queue message that records what the consumer decided. */
function queued(body: unknown, attempts = 1): DeliveryMessage & { outcome?: 'ack' | { retryIn: number | undefined } } {
  const message: DeliveryMessage & { outcome?: 'ack' | { retryIn: number | undefined } } = {
    body,
    attempts,
    ack: () => void (message.outcome = 'ack'),
    retry: (options) => void (message.outcome = { retryIn: options?.delaySeconds }),
  };
  return message;
}

function world(configured: NotificationEndpoint[], answer: (request: Request) => Promise<Response>) {
  const counts = new Map<string, number>();
  const requests: { request: Request; body: string }[] = [];
  const now = Date.UTC(2026, 10, 5, 12);
  const deps = {
    endpoints: configured,
    retryDelayMs: 10_000,
    counters: { add: (name: string, by = 1) => void counts.set(name, (counts.get(name) ?? 0) + by), read: async () => Object.fromEntries(counts) },
    log: silent,
    now: () => now,
    async fetch(request: Request) {
      requests.push({ request, body: await request.clone().text() });
      return answer(request);
    },
  };
  return { deps, counts, requests, now };
}

describe('the notifier', () => {
  it('queues one message per endpoint that wants the event, all with the same event, off the caller\'s path', async () => {
    const sent: NotificationMessage[] = [];
    const waited: Promise<unknown>[] = [];
    const configured = endpoints(`
  endpoints:
    - { url: "https://a.example.com/hook", events: ["s3:*"] }
    - { url: "https://b.example.com/hook", events: ["backend.*"] }
    - { name: c, url: "https://c.example.com/hook" }
`);
    const notifier = createNotifier({
      queue: { sendBatch: async (messages) => void sent.push(...messages) },
      endpoints: configured,
      counters: { add() {}, read: async () => ({}) },
      log: silent,
      now: () => 0,
      waitUntil: (promise) => void waited.push(promise),
    });
    notifier.emit(put());
    await Promise.all(waited);
    expect(sent.map((m) => m.endpoint)).toEqual(['a.example.com/hook', 'c']);
    expect(new Set(sent.map((m) => m.event.id)).size).toBe(1);
  });

  it('counts an event the queue refuses as dropped instead of failing the caller', async () => {
    const waited: Promise<unknown>[] = [];
    const counts = new Map<string, number>();
    const notifier = createNotifier({
      queue: { sendBatch: () => Promise.reject(new Error('queue away')) },
      endpoints: endpoints(`  endpoints: [{ url: "https://a.example.com/hook" }]\n`),
      counters: { add: (name, by = 1) => void counts.set(name, (counts.get(name) ?? 0) + by), read: async () => ({}) },
      log: silent,
      now: () => 0,
      waitUntil: (promise) => void waited.push(promise),
    });
    notifier.emit(put());
    await Promise.all(waited);
    expect(Object.fromEntries(counts)).toEqual({ 'notification_dropped:not_queued': 1 });
  });
});

describe('delivery', () => {
  const configured = () => endpoints(`  endpoints: [{ name: hook, url: "https://hooks.example.com/s3", secret: "\${HOOK_SECRET}" }]\n`, { HOOK_SECRET: 'webhook-secret' });
  const message = (endpoint = 'hook'): NotificationMessage => ({ kind: 'notification', endpoint, event: cloudEvent(put(), Date.UTC(2026, 10, 5, 12)) });

  it('POSTs the event as application/cloudevents+json, signed, and acknowledges a 2xx', async () => {
    const w = world(configured(), async () => new Response(null, { status: 204 }));
    const m = queued(message());
    await deliverNotifications(w.deps, [m]);
    expect(m.outcome).toBe('ack');
    const [sent] = w.requests;
    expect(sent?.request.method).toBe('POST');
    expect(sent?.request.url).toBe('https://hooks.example.com/s3');
    expect(sent?.request.headers.get('content-type')).toBe('application/cloudevents+json');
    expect(JSON.parse(sent?.body ?? '')).toEqual((m.body as NotificationMessage).event);
    expect(sent?.request.headers.get('x-webhook-signature')).toBe(`sha256=${createHmac('sha256', 'webhook-secret').update(sent?.body ?? '').digest('hex')}`);
    expect(Object.fromEntries(w.counts)).toEqual({ 'notification_sent:hook s3:ObjectCreated:Put': 1 });
  });

  it('sends no signature header without a secret', async () => {
    const w = world(endpoints(`  endpoints: [{ name: hook, url: "https://hooks.example.com/s3" }]\n`), async () => new Response('ok'));
    await deliverNotifications(w.deps, [queued(message())]);
    expect(w.requests[0]?.request.headers.has('x-webhook-signature')).toBe(false);
  });

  it('retries a non-2xx answer or an unreachable receiver later, longer each attempt, and counts the failure', async () => {
    const answers = [new Response('busy', { status: 503 }), new Response('moved', { status: 302 })];
    const w = world(configured(), async () => answers.shift() ?? Promise.reject(new TypeError('connection refused')));
    const first = queued(message(), 1);
    const second = queued(message(), 2);
    const third = queued(message(), 3);
    await deliverNotifications(w.deps, [first]);
    await deliverNotifications(w.deps, [second]);
    await deliverNotifications(w.deps, [third]);
    expect([first.outcome, second.outcome, third.outcome]).toEqual([{ retryIn: 10 }, { retryIn: 20 }, { retryIn: 40 }]);
    expect(Object.fromEntries(w.counts)).toEqual({ 'notification_failed:hook s3:ObjectCreated:Put': 3 });
  });

  it('drops a message whose endpoint left the configuration (once the configuration has had time to reach this isolate)', async () => {
    const w = world(configured(), async () => new Response('ok'));
    const old: NotificationMessage = { ...message('gone'), event: cloudEvent(put(), w.now - 60_000) };
    const fresh: NotificationMessage = { ...message('gone'), event: cloudEvent(put(), w.now) };
    const [dropped, waiting] = [queued(old), queued(fresh)];
    await deliverNotifications(w.deps, [dropped, waiting]);
    expect(dropped.outcome).toBe('ack');
    expect(waiting.outcome).toEqual({ retryIn: 5 });
    expect(w.requests).toEqual([]);
    expect(Object.fromEntries(w.counts)).toEqual({ 'notification_dropped:unroutable': 1 });
  });

  it('acknowledges and counts every dead-lettered message', () => {
    const counts = new Map<string, number>();
    const messages = [queued(message()), queued({ something: 'else' })];
    dropDeadLetters({ counters: { add: (name, by = 1) => void counts.set(name, (counts.get(name) ?? 0) + by), read: async () => ({}) }, log: silent }, messages);
    expect(messages.map((m) => m.outcome)).toEqual(['ack', 'ack']);
    expect(Object.fromEntries(counts)).toEqual({ 'notification_dropped:dead_lettered': 2 });
  });

  it('shows the counts as the three s3o_notification_* families', () => {
    const families = notificationFamilies({
      'notification_sent:hooks.example.com/s3 s3:ObjectCreated:Put': 2,
      'notification_failed:ops backend.removed': 1,
      'notification_dropped:dead_lettered': 3,
      'audit_events:s3.PutObject': 9,
    });
    expect(families.map((f) => [f.name, f.type === 'histogram' ? [] : f.samples])).toEqual([
      ['s3o_notification_sent_total', [{ labels: { endpoint: 'hooks.example.com/s3', event_type: 's3:ObjectCreated:Put' }, value: 2 }]],
      ['s3o_notification_failed_total', [{ labels: { endpoint: 'ops', event_type: 'backend.removed' }, value: 1 }]],
      ['s3o_notification_dropped_total', [{ labels: { reason: 'dead_lettered' }, value: 3 }]],
    ]);
  });
});

describe('configuration', () => {
  it('defaults: no endpoints, a 10 s first retry; an endpoint wants every event, any key, and is named by its host and path', () => {
    const result = loadConfig(BASE, {});
    expect(result.ok && result.config.notifications).toEqual({ endpoints: [], retryDelayMs: 10_000 });
    expect(endpoints(`  endpoints: [{ url: "https://hooks.example.com/s3?token=x" }]\n`)).toEqual([
      { name: 'hooks.example.com/s3', url: 'https://hooks.example.com/s3?token=x', secret: undefined, events: ['*'], prefix: '' },
    ]);
  });

  it('expands ${VAR} in the secret', () => {
    expect(endpoints(`  endpoints: [{ url: "https://h.example.com/", secret: "\${S}" }]\n`, { S: 'expanded-secret' })[0]?.secret).toBe('expanded-secret');
  });

  it('refuses bad URLs, unknown event types, misplaced stars and duplicate names with readable messages', () => {
    expect(problems(`  endpoints: [{ url: "http://hooks.example.com/s3" }]\n`)).toEqual([
      'notifications.endpoints[0].url: must be an https:// URL (http:// only for 127.0.0.1 or localhost, in development)',
    ]);
    expect(problems(`  endpoints: [{ url: "http://127.0.0.1:9000/hook" }]\n`)).toEqual([]);
    expect(problems(`  endpoints: [{ url: "https://h.example.com/", events: ["s3:ObjectCreated:Post"] }]\n`)).toEqual([
      expect.stringMatching(/^notifications\.endpoints\[0\]\.events\[0\]: "s3:ObjectCreated:Post" matches no event type \(known: s3:ObjectCreated:Put, /),
    ]);
    expect(problems(`  endpoints: [{ url: "https://h.example.com/", events: ["s3:*:Put"] }]\n`)).toEqual([
      'notifications.endpoints[0].events[0]: "s3:*:Put": "*" may only end a pattern (e.g. "s3:ObjectCreated:*" or "*")',
    ]);
    expect(problems(`  endpoints: [{ url: "https://h.example.com/", events: ["nothing.*"] }]\n`)).toEqual([expect.stringContaining('"nothing.*" matches no event type')]);
    expect(problems(`  endpoints: [{ url: "https://h.example.com/a" }, { url: "https://h.example.com/a", events: ["job.completed"] }]\n`)).toEqual([
      'notifications.endpoints: two endpoints are named "h.example.com/a"; give one a distinct name',
    ]);
    expect(problems(`  endpoints: [{ name: "has space", url: "https://h.example.com/a" }]\n`)).toEqual([
      'notifications.endpoints[0].name: must be 1-128 of letters, digits and _.:/- (no spaces)',
    ]);
  });
});
