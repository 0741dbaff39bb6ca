/** One admin event as `admin events` prints it. Pure (no Node imports), so it is unit-tested inside workerd. */
import type { AdminEvent } from '../observe/admin-events.ts';

/** `time  actor  event  name=value ...  status outcome`. */
export function eventLine(e: AdminEvent): string {
  const params = Object.entries(e.params).map(([name, value]) => `${name}=${paramText(value)}`);
  return [e.time, e.actor, e.event, ...params, `${e.status} ${e.outcome}`].join('  ');
}

function paramText(value: AdminEvent['params'][string]): string {
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text === '' || /[\s"=]/.test(text) ? JSON.stringify(text) : text;
}
