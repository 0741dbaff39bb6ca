/**
 * The two object-browser routes whose body is an object's bytes (PUT objects, PUT upload parts): the body goes to
 * the domain as a stream of declared length, never read whole here.
 */
import { type ChunkSource, lazySource, plainSource } from '../util/chunk-source.ts';
import { discardUnreadBody } from '../util/discard-body.ts';
import { json } from './http.ts';
import { answeringRefusals } from './refusals.ts';

export interface StreamedBody {
  source: ChunkSource;
  size: number;
}

/**
 * The body and its Content-Length: `411` without one (the backend needs the length before the first byte), `413`
 * above `maxBytes`. The body is taken only when the domain first reads it, so a refusal before that can still
 * drain it (see receivingBody).
 */
export function streamedBody(request: Request, maxBytes: number): StreamedBody | Response {
  const declared = request.headers.get('content-length');
  if (declared === null) return json(411, { error: 'send the body with a Content-Length (chunked bodies are not taken)' });
  if (!/^\d+$/.test(declared) || !Number.isSafeInteger(Number(declared))) return json(400, { error: 'Content-Length must be a whole number of bytes' });
  const size = Number(declared);
  if (size > maxBytes) return json(413, { error: `the body is ${size} bytes; at most ${maxBytes} are taken here` });
  const body = request.body ?? new ReadableStream<Uint8Array>({ start: (c) => c.close() });
  return { source: lazySource(() => plainSource(body)), size };
}

/**
 * A streamed-body route's answer, refusals mapped; whatever the route left of the body unread is drained before a
 * refusal goes out, so a browser still sending sees the error rather than a reset connection.
 */
export async function receivingBody(request: Request, route: () => Promise<Response>): Promise<Response> {
  try {
    return await answeringRefusals(route);
  } finally {
    await discardUnreadBody(request);
  }
}
