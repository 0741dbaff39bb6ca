/**
 * The benchmark's "bare proxy": the least a Worker can do between an S3 client and one backend. It authenticates
 * nothing, maps `/<bucket>/<key>?<query>` one to one onto the backend, re-signs each request with the backend's
 * credentials (aws4fetch, UNSIGNED-PAYLOAD, no retries) and streams both bodies straight through. Measured next to
 * the orchestrator under the same `wrangler dev`, it is the toolchain's own ceiling for any proxy on this machine.
 *
 * Not part of the orchestrator: scripts/bench.ts starts it (see scripts/lib/bench-stack.ts).
 */
import { AwsClient } from 'aws4fetch';

interface Env {
  /** The backend's origin, e.g. http://127.0.0.1:7480 (path-style addressing). */
  BACKEND_ENDPOINT: string;
  BACKEND_REGION: string;
  BACKEND_ACCESS_KEY: string;
  BACKEND_SECRET_KEY: string;
}

/**
 * Not forwarded: the client's signature (it is re-signed), `expect` (workerd would hand back the backend's 100 as
 * the response), `accept-encoding` (workerd rewrites it, breaking the signature), hop-by-hop headers, and what
 * the runtime adds on the way in (cf-*, x-forwarded-*, x-real-ip), which it may change again on the way out.
 */
const DROPPED = new Set([
  'authorization',
  'x-amz-date',
  'x-amz-content-sha256',
  'x-amz-security-token',
  'expect',
  'accept-encoding',
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'x-real-ip',
]);
const DROPPED_PREFIXES = ['cf-', 'x-forwarded-'];

let cached: { key: string; client: AwsClient } | undefined;

function client(env: Env): AwsClient {
  const key = `${env.BACKEND_ACCESS_KEY}\n${env.BACKEND_SECRET_KEY}\n${env.BACKEND_REGION}`;
  if (cached?.key !== key) {
    cached = {
      key,
      client: new AwsClient({
        accessKeyId: env.BACKEND_ACCESS_KEY,
        secretAccessKey: env.BACKEND_SECRET_KEY,
        service: 's3',
        region: env.BACKEND_REGION,
        retries: 0,
      }),
    };
  }
  return cached.client;
}

async function proxy(request: Request, env: Env): Promise<Response> {
  const url = new URL(request.url);
  if (url.pathname === '/health') {
    return new Response('ok\n', { headers: { 'content-type': 'text/plain; charset=utf-8' } });
  }
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    if (DROPPED.has(name) || DROPPED_PREFIXES.some((prefix) => name.startsWith(prefix))) continue;
    headers.set(name, value);
  }
  headers.set('x-amz-content-sha256', 'UNSIGNED-PAYLOAD');
  const target = `${new URL(env.BACKEND_ENDPOINT).origin}${url.pathname}${url.search}`;
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  // request.body goes out as it came in: workerd keeps its length, so the backend sees a Content-Length body.
  const signed = await client(env).sign(target, { method: request.method, headers, body: hasBody ? request.body : null });
  const response = await fetch(signed);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers: response.headers });
}

export default {
  async fetch(request, env) {
    try {
      return await proxy(request, env);
    } catch (err) {
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      return new Response(`bench proxy: ${message}\n`, { status: 502, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    }
  },
} satisfies ExportedHandler<Env>;
