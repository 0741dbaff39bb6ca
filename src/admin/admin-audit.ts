/**
 * The admin API's audit trail. The router names each route that changes something as an action (`admin.drain`,
 * `admin.config.push`, ...) with its parameters; once the answer is known, the action is written as one audit
 * record (src/observe/audit.ts) and appended to the fleet's ring of admin events (`GET /admin/api/events`), handed
 * to waitUntil so the answer never waits for it. Reads are not actions and write nothing.
 */
import { type AuditParams, type AuditRecord, type AuditValue, emitAudit, knownParams, outcomeOf } from '../observe/audit.ts';
import type { AdminEventsRpc } from '../observe/admin-events.ts';
import { errorFields } from '../observe/log.ts';
import type { Services } from '../services/services.ts';
import type { AdminCaller } from './authorize.ts';

/** Parameters a route learns while it works (a config push's new version, a delete's bucket and prefix). */
export type AuditNote = (params: Readonly<Record<string, AuditValue | undefined>>) => void;

export interface AdminAction {
  /** Names this request as the action `event` with the parameters known from its address, and runs it. */
  as(event: string, params: Readonly<Record<string, AuditValue | undefined>>, handle: (note: AuditNote) => Response | Promise<Response>): Promise<Response>;
  /** Writes the action's record, if the request was one, with the answer's status. */
  finish(status: number): void;
}

export function adminAction(services: Services, events: AdminEventsRpc, caller: AdminCaller): AdminAction {
  let action: { event: string; params: Record<string, AuditValue> } | undefined;
  const note: AuditNote = (params) => {
    if (action) Object.assign(action.params, knownParams(params));
  };
  return {
    async as(event, params, handle) {
      action = { event, params: { ...knownParams(params) } };
      return handle(note);
    },
    finish(status) {
      if (!action) return;
      const record: AuditRecord = { event: action.event, request_id: services.requestId, actor: callerName(caller), params: action.params, status, outcome: outcomeOf(status) };
      action = undefined;
      emitAudit(services, record);
      const kept = events.append({ ...record, time: new Date(services.now()).toISOString() });
      services.waitUntil(kept.catch((err) => services.log.warn('admin event not kept in the ring', { event: record.event, ...errorFields(err) })));
    },
  };
}

/** Who did it, as configuration history, the logs and the audit trail name the caller. */
export function callerName(caller: AdminCaller): string {
  if (caller.kind === 'access') return caller.identity;
  return caller.kind === 'session' ? 'development token (dashboard session)' : 'development token';
}

/** The named query parameters that are present: what an action's address says about it. */
export function queryParams(request: Request, names: readonly string[]): AuditParams {
  const query = new URL(request.url).searchParams;
  return knownParams(Object.fromEntries(names.map((name) => [name, query.get(name) ?? undefined])));
}
