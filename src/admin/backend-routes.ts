/**
 * Backend lifecycle over the admin API: drain, drain status, drain cancel (each answered by the backend's Durable
 * Object, so every isolate sees the same drain), and remove.
 */
import { drainReport } from '../backends/backend-state.ts';
import type { ControlRefusal, ControlResult } from '../backends/backend-state-rpc.ts';
import { hasQuotaRow, recordedOn } from '../store/backend-states.ts';
import type { AdminContext } from './api.ts';
import { json } from './http.ts';

export async function startDrainRoute(name: string, context: AdminContext): Promise<Response> {
  const known = knownBackend(name, context);
  if (known) return known;
  return controlResponse(await context.services.backendState(name).startDrain(name), 202, name);
}

export async function cancelDrainRoute(name: string, context: AdminContext): Promise<Response> {
  const known = knownBackend(name, context);
  if (known) return known;
  return controlResponse(await context.services.backendState(name).cancelDrain(name), 200, name);
}

export async function drainStatusRoute(name: string, context: AdminContext): Promise<Response> {
  const known = knownBackend(name, context);
  if (known) return known;
  const [state, remaining] = await Promise.all([context.services.backendState(name).snapshot(), recordedOn(context.services.db(), name)]);
  return json(200, { backend: name, ...drainReport(state, remaining) });
}

/** A backend's Durable Object says why it refused; this is where that becomes an HTTP status. */
const REFUSAL_STATUS: Record<ControlRefusal, number> = { 'unknown-backend': 404, conflict: 409, unconfigured: 503, 'bad-token': 403 };

function controlResponse(result: ControlResult, okStatus: number, name: string): Response {
  if (!result.ok) return json(REFUSAL_STATUS[result.reason], { error: result.error });
  return json(result.status === 'drain started' ? okStatus : 200, { status: result.status, backend: name, mode: result.state.mode });
}

function knownBackend(name: string, context: AdminContext): Response | undefined {
  if (context.active.config.backends.some((b) => b.name === name)) return undefined;
  return json(404, { error: `no backend "${name}" in the configuration` });
}

/** `?purge=true` previews and issues a confirmation token; `?purge=true&confirm=TOKEN` purges. */
export async function removeBackendRoute(request: Request, name: string, context: AdminContext): Promise<Response> {
  // A backend that already left the configuration can still have its leftover records dropped.
  const known = knownBackend(name, context);
  if (known && !(await hasQuotaRow(context.services.db(), name))) return known;
  const query = new URL(request.url).searchParams;
  const purge = query.get('purge');
  if (purge !== null && purge !== 'true') return json(400, { error: 'purge must be "true" when given' });
  const confirm = query.get('confirm') ?? undefined;
  if (confirm !== undefined && purge === null) return json(400, { error: 'confirm only goes with purge=true' });
  const result = await context.services.backendState(name).removeBackend(name, { purge: purge === 'true', confirm });
  if (!result.ok) return json(REFUSAL_STATUS[result.reason], { error: result.error });
  context.services.log.warn('admin remove-backend', { backend: name, status: result.body.status });
  return json(200, result.body);
}
