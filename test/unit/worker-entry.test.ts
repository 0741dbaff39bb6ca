/**
 * The Worker entry keeps each request's work alive past a client's disconnect (Cloudflare cancels the work of a
 * request whose client hangs up, except what was passed to waitUntil). The local runtime does not cancel on
 * disconnect, so the integration test of a hung-up delete cannot catch a missing guard; this checks the guard
 * itself, with a recording stand-in for the execution context (the one thing here that is not the real runtime).
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { isOwnRoute } from '../../src/runtime/fetch.ts';
import worker from '../../workers/index.ts';

describe('worker entry', () => {
  it('passes the whole request handling to waitUntil, so a hang-up does not cut it short', async () => {
    const kept: Promise<unknown>[] = [];
    const ctx = { waitUntil: (p: Promise<unknown>) => kept.push(p), passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
    const config = `
server: { log_level: error }
buckets: [{ name: some-bucket, credentials: [{ access_key_id: unit-key, secret_access_key: unit-secret-0123 }] }]
backends: [{ name: a, endpoint: "http://127.0.0.1:9", bucket: b, access_key_id: k, secret_access_key: s }]
`;
    // An unsigned request: refused before any database or backend is involved.
    const response = await worker.fetch(new Request('http://127.0.0.1/some-bucket/some-key'), { ...env, S3O_CONFIG: config }, ctx);
    expect(response.status).toBe(403);
    await response.body?.cancel();
    expect(await Promise.all(kept)).toContain(response);
  });
});

describe('S3 or the orchestrator', () => {
  const domains = ['s3.example.com'];
  const at = (url: string, host?: string) => new Request(url, host ? { headers: { host } } : {});

  it('is decided by host first: a virtual-hosted bucket owns every path, also /metrics, /health and /admin/...', () => {
    for (const path of ['/metrics', '/health', '/admin/api/status', '/admin']) {
      expect(isOwnRoute(at(`http://photos.s3.example.com${path}`), domains), path).toBe(false);
      expect(isOwnRoute(at(`http://127.0.0.1:8787${path}`, 'photos.s3.example.com:8787'), domains), path).toBe(false);
    }
  });

  it('is decided by the reserved first path segment otherwise', () => {
    for (const path of ['/metrics', '/health', '/admin', '/admin/api/status']) {
      expect(isOwnRoute(at(`http://s3.example.com${path}`), domains), path).toBe(true);
    }
    for (const path of ['/', '/photos/metrics', '/photos/admin/api/status', '/metricsx', '/healthy/x']) {
      expect(isOwnRoute(at(`http://s3.example.com${path}`), domains), path).toBe(false);
    }
  });
});
