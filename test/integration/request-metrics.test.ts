/**
 * Fleet-wide request metrics end to end: the real Worker under wrangler dev, Postgres and radosgw. A known workload
 * (PUTs, GETs, GETs of missing keys) must show up in /metrics exactly, request by request and backend call by call.
 *
 * Two isolates, honestly: wrangler dev runs one isolate per process, so the second is a new process
 * (`stack.restart()`) on the same local persistence directory, where the MetricsShard Durable Objects keep what the
 * first isolate sent. The first isolate's counts are flushed through the admin route before the restart (a stopped
 * process sends nothing more); the second's are sent by the scrape itself. The two report different isolate ids,
 * and the totals must be the sums of both workloads. Nothing here waits for the flush interval.
 */
import { AwsClient } from 'aws4fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedSamples } from '../support/prometheus-text.ts';
import { type TestStack, startTestStack } from '../support/stack.ts';

const TOKEN = 'request-metrics-admin-token-0123';
const BODY = new Uint8Array(3000).fill(7);
let s: TestStack;
let aws: AwsClient;

beforeAll(async () => {
  s = await startTestStack({ name: 'reqmetrics', admin: { token: TOKEN }, backends: [{ name: 'b1', kind: 'radosgw' }] });
  aws = new AwsClient({ ...s.credentials[0]!, service: 's3', region: 'us-east-1', retries: 0 });
});

afterAll(async () => {
  await s?.stop();
});

/** Sends `puts` PUTs of BODY, a GET of each, and `misses` GETs of keys that do not exist; checks every answer. */
async function workload(prefix: string, puts: number, misses: number): Promise<void> {
  for (let i = 0; i < puts; i++) {
    const put = await aws.fetch(`${s.endpoint}/${s.bucket}/${prefix}/${i}`, { method: 'PUT', body: BODY });
    expect(put.status, await put.text()).toBe(200);
  }
  for (let i = 0; i < puts; i++) {
    const get = await aws.fetch(`${s.endpoint}/${s.bucket}/${prefix}/${i}`);
    expect((await get.arrayBuffer()).byteLength).toBe(BODY.byteLength);
    expect(get.status).toBe(200);
  }
  for (let i = 0; i < misses; i++) {
    const miss = await aws.fetch(`${s.endpoint}/${s.bucket}/${prefix}/missing-${i}`);
    expect(miss.status).toBe(404);
    await miss.text();
  }
}

async function scrape(): Promise<string> {
  const response = await fetch(`${s.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(response.status).toBe(200);
  return response.text();
}

describe('request metrics across two isolates', () => {
  it('add up exactly: requests by method and status, sizes, durations and backend calls', async () => {
    await workload('first', 4, 2);
    const first = await s.admin('POST', '/admin/api/metrics/flush');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ unconfirmed: 0 });

    await s.restart();
    await workload('second', 3, 1);
    const second = await s.admin('POST', '/admin/api/metrics/flush');
    expect(second.body).toMatchObject({ unconfirmed: 0 });
    expect(second.body.isolate).not.toBe(first.body.isolate);

    const text = await scrape();
    const puts = 4 + 3;
    const misses = 2 + 1;
    const { actual, expected } = expectedSamples(text, {
      's3o_requests_total{method="PUT",status_code="200"}': puts,
      's3o_requests_total{method="GET",status_code="200"}': puts,
      's3o_requests_total{method="GET",status_code="404"}': misses,
      's3o_request_duration_seconds_count{method="GET"}': puts + misses,
      's3o_request_duration_seconds_bucket{method="PUT",le="+Inf"}': puts,
      // Every PUT body is 3000 bytes (between 1 KiB and 4 KiB); GETs send none.
      's3o_request_size_bytes_bucket{method="PUT",le="1024"}': 0,
      's3o_request_size_bytes_bucket{method="PUT",le="4096"}': puts,
      's3o_request_size_bytes_sum{method="PUT"}': puts * BODY.byteLength,
      's3o_request_size_bytes_bucket{method="GET",le="1024"}': puts + misses,
      // Object reads declare their length; the 404 error documents do not and are not counted.
      's3o_response_size_bytes_count{method="GET"}': puts,
      's3o_response_size_bytes_sum{method="GET"}': puts * BODY.byteLength,
      // One backend call per stored or read object; a missing key never reaches the backend.
      's3o_backend_requests_total{operation="PutObject",backend="b1",status="success"}': puts,
      's3o_backend_requests_total{operation="GetObject",backend="b1",status="success"}': puts,
      's3o_backend_duration_seconds_count{operation="GetObject",backend="b1"}': puts,
      // The families that existed before are still there, next to the new ones.
      's3o_objects_count{backend="b1"}': puts,
    });
    expect(actual).toEqual(expected);
    expect(text).not.toMatch(/^s3o_backend_requests_total\{[^}]*status="error"/m);
    expect(text).toMatch(/^s3o_build_info\{version="\d+\.\d+\.\d+[^"]*"\} 1$/m);

    // A second scrape with no traffic between reads the same totals: scraping neither counts nor loses anything.
    expect(await scrape()).toContain(`s3o_requests_total{method="PUT",status_code="200"} ${puts}\n`);
  });
});
