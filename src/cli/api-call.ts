/** One admin API call from the CLI, with failures turned into one readable line. */
import type { Target } from './target.ts';

export type CallResult = { ok: true; status: number; value: unknown } | { ok: false; error: string; body?: unknown };

export async function call(target: Target, method: string, path: string, body?: unknown): Promise<CallResult> {
  let response: Response;
  try {
    response = await fetch(`${target.url}${path}`, {
      method,
      // Every state-changing call says JSON, with or without a body: the admin API refuses those that do not.
      headers: method === 'GET' ? target.headers : { ...target.headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : err instanceof Error ? err.message : String(err);
    return { ok: false, error: `cannot reach ${target.url} (${cause}); is the orchestrator running? (URL from ${target.source})` };
  }
  const text = await response.text();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: `${target.url} answered HTTP ${response.status} with something that is not the admin API's JSON` };
  }
  if (!response.ok) {
    const message = value && typeof value === 'object' && 'error' in value ? String(value.error) : text;
    const hint = response.status === 401 ? ' (give --token, S3O_ADMIN_TOKEN, or an Access service token)' : '';
    return { ok: false, error: `the server refused: ${message} (HTTP ${response.status})${hint}`, body: value };
  }
  return { ok: true, status: response.status, value };
}
