/** JSON in and out for the admin API: every answer is JSON, every bad body a 400 that says what was expected. */

/** Admin bodies are small documents; anything larger is a mistake, refused before it is read whole. */
const MAX_BODY_BYTES = 1024 * 1024;

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' } });
}

export type JsonBody = { ok: true; value: Record<string, unknown> } | { ok: false; response: Response };

/** The request body as a JSON object, or the 400 to answer; `example` shows the expected shape. */
export async function readJsonObject(request: Request, example: string): Promise<JsonBody> {
  const refuse = (why: string): JsonBody => ({ ok: false, response: json(400, { error: `${why}; the body must be JSON like ${example}` }) });
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_BODY_BYTES) return refuse(`the body is larger than ${MAX_BODY_BYTES} bytes`);
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) return refuse(`the body is larger than ${MAX_BODY_BYTES} bytes`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refuse('the body is not JSON');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return refuse('the body is not a JSON object');
  return { ok: true, value: value as Record<string, unknown> };
}

/** The `batch_size` query parameter (1-10000), `fallback` when absent, or the 400 to answer. */
export function batchSizeParam(request: Request, fallback: number): number | Response {
  const param = new URL(request.url).searchParams.get('batch_size');
  const batchSize = param === null ? fallback : Number(param);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    return json(400, { error: 'batch_size must be a whole number from 1 to 10000' });
  }
  return batchSize;
}
