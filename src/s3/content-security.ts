/**
 * Tenant content is served from the orchestrator's own origin, where the admin API and (later) the dashboard
 * live. So no S3 response may be read as something else than it claims (`nosniff`), and a body a browser would
 * execute (HTML, SVG, XML, script, or any type not known to be passive) runs in a sandbox: a unique opaque
 * origin, no scripts, no same-origin requests carrying an operator's Access cookie. As stores that serve user
 * content from a shared origin do. https://developer.mozilla.org/docs/Web/HTTP/Headers/Content-Security-Policy/sandbox
 */

export const SANDBOX_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox";

/** Types a browser renders without running anything; everything else is sandboxed. */
const PASSIVE = [
  /^image\/(?!svg)/,
  /^(?:video|audio|font)\//,
  /^text\/(?:plain|csv)$/,
  /^application\/(?:octet-stream|json|pdf|zip|gzip|x-gzip|x-tar|x-7z-compressed|x-bzip2|zstd|wasm)$/,
];

export function isPassiveContentType(contentType: string | null): boolean {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return PASSIVE.some((pattern) => pattern.test(type));
}

/** Sets the headers on a response we built (its headers are mutable). */
export function applyContentSecurity(response: Response): Response {
  response.headers.set('x-content-type-options', 'nosniff');
  if (!isPassiveContentType(response.headers.get('content-type'))) response.headers.set('content-security-policy', SANDBOX_POLICY);
  return response;
}
