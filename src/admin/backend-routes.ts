/**
 * Backend lifecycle over the admin API: drain, drain status, drain cancel (each answered by the backend's Durable
 * Object, so every isolate sees the same drain), and remove.
 */
import type { ControlResult } from '../backends/drain-control.ts';
import { drainReport } from '../backends/backend-state.ts';
import { recordedOn } from '../store/backend-states.ts';
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
