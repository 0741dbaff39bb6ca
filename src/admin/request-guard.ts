/**
 * The admin API shares an origin with tenant content (objects served by the S3 side). A browser page, even one
 * an operator opens while holding an Access cookie, must not be able to change anything: a state-changing call
 * must carry `Content-Type: application/json` (which no cross-site form or simple request can send without a
 * CORS preflight, and the admin API answers none) and no foreign `Origin` or cross-site `Sec-Fetch-Site`.
 * https://developer.mozilla.org/docs/Web/HTTP/CORS#simple_requests
 */
import { json } from './http.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The refusal to answer, or undefined when the request may go on to authorization. */
export function refuseCrossSiteChange(request: Request): Response | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined;
  const origin = request.headers.get('origin');
  if (origin !== null && origin !== new URL(request.url).origin) {
    return json(403, { error: `cross-origin admin calls are refused (Origin ${origin}); call the admin API from the CLI or its own origin` });
  }
  const site = request.headers.get('sec-fetch-site');
  if (site === 'cross-site' || site === 'same-site') {
    return json(403, { error: `cross-site admin calls are refused (Sec-Fetch-Site: ${site})` });
  }
  const type = request.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    return json(415, { error: 'state-changing admin calls must send Content-Type: application/json' });
  }
  return undefined;
}
