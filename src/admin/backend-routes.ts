/**
 * Backend lifecycle over the admin API: drain, drain status, drain cancel (each answered by the backend's Durable
 * Object, so every isolate sees the same drain), and remove.
 */
import type { ControlResult } from '../backends/drain-control.ts';
import { drainReport } from '../backends/backend-state.ts';
import { hasQuotaRow, recordedOn } from '../store/backend-states.ts';
import type { AdminContext } from './api.ts';
import { json } from './http.ts';

export async function startDrainRoute(name: string, context: AdminContext): Promise<Response> {
  const known = knownBackend(name, context);
  if (known) return known;
  return controlResponse(await context.backendState(name).startDrain(name), 202, name);
}

export async function cancelDrainRoute(name: string, context: AdminContext): Promise<Response> {
  const known = knownBackend(name, context);
  if (known) return known;
  return controlResponse(await context.backendState(name).cancelDrain(name), 200, name);
}

export async function drainStatusRoute(name: string, context: AdminContext): Promise<Response> {
  const known = knownBackend(name, context);
  if (known) return known;
  const [state, remaining] = await Promise.all([context.backendState(name).snapshot(), recordedOn(context.db(), name)]);
  return json(200, { backend: name, ...drainReport(state, remaining) });
}

function controlResponse(result: ControlResult, okStatus: number, name: string): Response {
  if (!result.ok) return json(result.code, { error: result.error });
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
  if (known && !(await hasQuotaRow(context.db(), name))) return known;
  const query = new URL(request.url).searchParams;
  const purge = query.get('purge');
  if (purge !== null && purge !== 'true') return json(400, { error: 'purge must be "true" when given' });
  const confirm = query.get('confirm') ?? undefined;
  if (confirm !== undefined && purge === null) return json(400, { error: 'confirm only goes with purge=true' });
  const result = await context.backendState(name).removeBackend(name, { purge: purge === 'true', confirm });
  if (!result.ok) return json(result.code, { error: result.error });
  context.log.warn('admin remove-backend', { backend: name, status: result.body.status });
  return json(200, result.body);
}
