/**
 * The admin API shares an origin with tenant content (objects served by the S3 side). A browser page, even one
 * an operator opens while holding an Access cookie, must not be able to change anything: a state-changing call
 * must carry a Content-Type no cross-site form or simple request can send without a CORS preflight (the admin
 * API answers none), and no foreign `Origin` or cross-site `Sec-Fetch-Site`.
 *
 * That type is `application/json`, except on the two routes whose body is an object's bytes streamed as they are
 * (PUT /objects and PUT /uploads/:id/parts/:n): there it is `application/octet-stream`, which is not a
 * CORS-safelisted type either, so the same preflight stands in the way. Each route takes only its own type, so a
 * streamed body is never parsed as JSON and a JSON call never carries an arbitrary body.
 * https://developer.mozilla.org/docs/Web/HTTP/CORS#simple_requests
 */
import { json } from './http.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** PUT paths whose body is raw bytes (itty-router also matches them with trailing slashes). */
const STREAMED_BODY_PATHS = [/^\/admin\/api\/objects\/*$/, /^\/admin\/api\/uploads\/[^/]+\/parts\/[^/]+\/*$/];

/** The refusal to answer, or undefined when the request may go on to authorization. */
export function refuseCrossSiteChange(request: Request): Response | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined;
  const url = new URL(request.url);
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== url.origin) {
    return json(403, { error: `cross-origin admin calls are refused (Origin ${origin}); call the admin API from the CLI or its own origin` });
  }
  const site = request.headers.get('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') {
    return json(403, { error: `cross-site admin calls are refused (Sec-Fetch-Site: ${site})` });
  }
  const required = requiredContentType(request.method, url.pathname);
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== required) {
    return json(415, { error: `this admin call must send Content-Type: ${required}` });
  }
  return undefined;
}

function requiredContentType(method: string, path: string): 'application/json' | 'application/octet-stream' {
  return method === 'PUT' && STREAMED_BODY_PATHS.some((p) => p.test(path)) ? 'application/octet-stream' : 'application/json';
}
