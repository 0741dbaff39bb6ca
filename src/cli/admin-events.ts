/** `admin events [--follow] [--limit N]`: the fleet's last admin actions, one line each, from GET /admin/api/events. */
import type { AdminEventPage } from '../observe/admin-events.ts';
import { call } from './api-call.ts';
import { eventLine } from './event-line.ts';
import { fail, printJson } from './output.ts';
import type { Target } from './target.ts';

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;
const FOLLOW_INTERVAL_MS = 2000;

/**
 * The newest `limit` events, oldest first. `follow` then asks every 2 s for those after the last one shown, until
 * interrupted (as `drain-status --watch` follows a drain); with --json each new event is one JSON line.
 */
export async function adminEvents(target: Target, opts: { follow: boolean; limit: string | undefined; json: boolean }): Promise<number> {
  const limitText = opts.limit ?? String(DEFAULT_LIMIT);
  const limit = /^\d{1,4}$/.test(limitText) ? Number(limitText) : NaN;
  if (!(limit >= 1 && limit <= MAX_LIMIT)) return fail(`--limit takes a number from 1 to ${MAX_LIMIT}, got "${limitText}"`, 2);
  const first = await eventPage(target, `limit=${limit}`);
  if (typeof first === 'string') return fail(first);
  if (opts.json && !opts.follow) printJson(first);
  else first.events.forEach((e) => console.log(opts.json ? JSON.stringify(e) : eventLine(e)));
  if (!opts.follow) return 0;
  for (let last = first.last; ; ) {
    await new Promise((resolve) => setTimeout(resolve, FOLLOW_INTERVAL_MS));
    const page = await eventPage(target, `after=${last}&limit=${MAX_LIMIT}`);
    if (typeof page === 'string') return fail(page);
    page.events.forEach((e) => console.log(opts.json ? JSON.stringify(e) : eventLine(e)));
    last = page.last;
  }
}

async function eventPage(target: Target, query: string): Promise<AdminEventPage | string> {
  const body = await call(target, 'GET', `/admin/api/events?${query}`);
  return body.ok ? (body.value as AdminEventPage) : body.error;
}
