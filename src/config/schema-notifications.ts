/**
 * The configuration of webhook notifications (src/notify/): where CloudEvents are POSTed, which types each
 * endpoint wants, and how soon a failed delivery is tried again. Every key reloads: the queue consumer reads the
 * endpoints of the configuration in effect when it delivers.
 */
import { EVENT_TYPES, patternProblem } from '../notify/event-types.ts';
import { duration, optionalText, stringList, text } from './fields.ts';
import { finished, key, optionalList, section } from './schema-kit.ts';

/** https anywhere; http only to this machine, for local development and tests. */
const WEBHOOK_URL = /^https:\/\/[^\s/?#]+(\/[^\s#]*)?$|^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?(\/[^\s#]*)?$/;
/** A metrics label and a message key: no spaces (fleet counters use one to join labels) and nothing secret. */
const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$/;

function webhookUrl(url: string): string | undefined {
  if (!WEBHOOK_URL.test(url)) return 'must be an https:// URL (http:// only for 127.0.0.1 or localhost, in development)';
  return URL.canParse(url) ? undefined : `must be a URL, got ${JSON.stringify(url)}`;
}

/** The endpoint's name when none is given: its host and path, which say where it is without its query or secret. */
export function defaultEndpointName(url: string): string {
  const parsed = new URL(url);
  return `${parsed.host}${parsed.pathname}`;
}

const endpoint = {
  name: key('name', optionalText(undefined, (name) => (ENDPOINT_NAME.test(name) ? undefined : 'must be 1-128 of letters, digits and _.:/- (no spaces)')), {
    defaultText: "the URL's host and path",
    meaning: 'names the endpoint in the `endpoint` label of the `s3o_notification_*` metrics and in logs; unique',
  }),
  url: key('url', text(webhookUrl), {
    meaning: 'where events are POSTed (`https://`; `http://` only for 127.0.0.1 or localhost, in development)',
  }),
  secret: key('secret', optionalText(undefined), {
    secret: true,
    meaning: 'signs each body: `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, body)>` (use `${VAR}`); without it, deliveries are unsigned',
  }),
  events: key(
    'events',
    stringList(['*'], (pattern) => patternProblem(pattern) === undefined, (value) => (typeof value === 'string' ? (patternProblem(value) ?? '') : 'must be a string')),
    {
      meaning: `event types to send: exact (\`s3:ObjectCreated:Put\`), \`*\` (all), or a prefix ending in \`*\` (\`s3:ObjectCreated:*\`, \`backend.*\`). Known types: ${EVENT_TYPES.map((t) => `\`${t}\``).join(', ')}`,
    },
  ),
  prefix: key('prefix', optionalText(''), {
    defaultText: '`""` (everything)',
    meaning: "data events only (`s3:*`): sent when the subject `bucket/key` starts with this (`photos/` is bucket `photos`; `photos/2026/` a folder in it); a DeleteBatch when any of its keys does. Operational events are never filtered by it",
  }),
};

function showEndpoints(endpoints: readonly { name?: string | undefined; url: string; events: readonly string[]; prefix: string }[]): string {
  return endpoints.map((e) => `${e.name ?? defaultEndpointName(e.url)} <- ${e.events.join(',')}${e.prefix ? ` (${e.prefix}*)` : ''}`).join('; ');
}

export const notifications = finished(
  section(
    {
      endpoints: key('endpoints', optionalList(endpoint, 'url', showEndpoints), {
        reload: 'reloadable',
        defaultText: '`[]` (none)',
        meaning: 'webhook receivers; each gets its own copy of every event it wants, retried on its own (docs/notifications.md)',
      }),
      retry_delay: key('retryDelayMs', duration('10s', '0s'), {
        reload: 'reloadable',
        meaning: "how long after a failed delivery (no 2xx within 10 s) it is tried again; the delay doubles with each further attempt up to 5 minutes. After the queue's `max_retries` (wrangler.toml) the event is dead-lettered and counted dropped",
      }),
    },
    {
      key: 'endpoints',
      problem: (doc) => {
        const names = doc.endpoints.map((e) => e.name ?? defaultEndpointName(e.url));
        const twice = names.find((name, i) => names.indexOf(name) !== i);
        return twice === undefined ? undefined : `two endpoints are named "${twice}"; give one a distinct name`;
      },
    },
  ),
  ({ endpoints, ...rest }) => ({ ...rest, endpoints: endpoints.map(({ name, ...e }) => ({ ...e, name: name ?? defaultEndpointName(e.url) })) }),
);
