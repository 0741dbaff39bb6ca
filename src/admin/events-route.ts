/**
 * `GET /admin/api/events?after=SEQ&limit=N`: the fleet's last admin events (src/observe/admin-events.ts), oldest
 * first; without `after`, the newest N. `last` is what to pass as `after` next (the CLI's `admin events --follow`).
 */
import { ADMIN_EVENTS_KEPT, type AdminEventsRpc } from '../observe/admin-events.ts';
import { json } from './http.ts';

const DEFAULT_LIMIT = 100;

export async function adminEventsRoute(request: Request, events: AdminEventsRpc): Promise<Response> {
  const query = new URL(request.url).searchParams;
  const afterParam = query.get('after');
  const after = afterParam === null ? undefined : wholeNumber(afterParam);
  const limit = wholeNumber(query.get('limit') ?? String(DEFAULT_LIMIT));
  if (after === null) return json(400, { error: 'after must be a whole number (the `last` of an earlier answer, or 0 for the oldest kept)' });
  if (limit === null || limit < 1 || limit > ADMIN_EVENTS_KEPT) return json(400, { error: `limit must be a whole number from 1 to ${ADMIN_EVENTS_KEPT}` });
  return json(200, await events.page(after, limit));
}

/** null when the text is not a whole number. */
function wholeNumber(text: string): number | null {
  return /^\d{1,15}$/.test(text) ? Number(text) : null;
}
