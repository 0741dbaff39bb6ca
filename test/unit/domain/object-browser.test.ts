/**
 * The object browser's admin routes through handleAdmin itself (guard, development token, router), over the domain
 * world (PGlite, in-memory backends): answers, validation, refusals mapped to statuses, delete-prefix's bounds.
 * The real Worker, radosgw and the AWS SDK are test/integration/admin-objects.test.ts's.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type AdminContext, handleAdmin } from '../../../src/admin/api.ts';
import { ADMIN_STATUSES } from '../../../src/admin/refusals.ts';
import { refreshedValue } from '../../../src/config/config-store.ts';
import { adminEventRing, memoryRingStorage } from '../../../src/observe/admin-events.ts';
import { memoryTraceCollector } from '../../../src/observe/trace-collector.ts';
import { MIN_PART_BYTES } from '../../../src/objects/multipart.ts';
import { deletePrefix } from '../../../src/objects/delete-prefix.ts';
import { downloadHeaders } from '../../support/download-headers.ts';
import { expectConsistent, expectSameBytes, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainOptions, type DomainWorld, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const TOKEN = 'object-browser-test-token';
const ORIGIN = 'https://orchestrator.test';

async function browserWorld(backends: DomainOptions['backends'] = ['b1']) {
  return domainServices({ backends, document: { admin: { token: TOKEN } } });
}

function adminContext(world: DomainWorld): AdminContext {
  return {
    services: world.services,
    active: { config: world.config, deployed: world.config, version: undefined, pushed: undefined },
    deployedText: '',
    vars: {},
    environment: 'development',
    store: undefined,
    rememberActive: () => {},
    runtimeSettings: refreshedValue('runtime-settings'),
    adminEvents: adminEventRing(memoryRingStorage()),
    trace: { collector: memoryTraceCollector(world.clock.now), opened: () => {} },
  };
}

interface Call {
  method?: string;
  type?: string;
  body?: BodyInit;
  length?: number;
  headers?: Record<string, string>;
}

async function call(world: DomainWorld, path: string, opts: Call = {}): Promise<Response> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}`, ...opts.headers };
  if (method !== 'GET') headers['content-type'] = opts.type ?? 'application/json';
  if (opts.length !== undefined) headers['content-length'] = String(opts.length);
  return handleAdmin(new Request(`${ORIGIN}${path}`, { method, headers, body: opts.body }), adminContext(world));
}

async function callJson(world: DomainWorld, path: string, opts: Call = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await call(world, path, opts);
  expect(response.headers.get('content-type')).toBe('application/json');
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const q = (params: Record<string, string>) => new URLSearchParams(params).toString();

function putBytes(world: DomainWorld, key: string, bytes: Uint8Array, headers: Record<string, string> = {}) {
  return callJson(world, `/admin/api/objects?${q({ bucket: BUCKET, key })}`, { method: 'PUT', type: 'application/octet-stream', body: bytes, length: bytes.byteLength, headers });
}

describe('object routes', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('PUT stores the streamed body under the exact key; GET downloads it as an attachment that never renders', async () => {
    const world = await browserWorld();
    const key = 'docs/../%2F/報告 (final)*.html';
    const bytes = bytesOf(300_000);
    const stored = await putBytes(world, key, bytes, { 'x-object-content-type': 'text/html' });
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ bucket: BUCKET, key, size: bytes.byteLength });
    expectSameBytes(await read(world, key), bytes);

    const got = await call(world, `/admin/api/objects?${q({ bucket: BUCKET, key })}`);
    expect(got.status).toBe(200);
    const encodedName = '%E5%A0%B1%E5%91%8A%20%28final%29%2A.html';
    expect(Object.fromEntries(got.headers)).toMatchObject(downloadHeaders({ encodedName, size: bytes.byteLength, etag: stored.body.etag, storedType: 'text/html' }));
    expectSameBytes(new Uint8Array(await got.arrayBuffer()), bytes);
    await expectConsistent(world);
  });

  it('refuses a body without a length (411), above max_object_size (413), a bad content type (400)', async () => {
    const world = await domainServices({ backends: ['b1'], document: { admin: { token: TOKEN }, server: { max_object_size: 1000 } } });
    const path = `/admin/api/objects?${q({ bucket: BUCKET, key: 'k' })}`;
    expect((await callJson(world, path, { method: 'PUT', type: 'application/octet-stream', body: new ReadableStream({ start: (c) => c.close() }) })).status).toBe(411);
    expect((await callJson(world, path, { method: 'PUT', type: 'application/octet-stream', body: bytesOf(1001), length: 1001 })).status).toBe(413);
    expect((await putBytes(world, 'k', bytesOf(10), { 'x-object-content-type': `text/${'x'.repeat(1020)}` })).status).toBe(400);
    expect((await putBytes(world, 'k', bytesOf(1000))).status).toBe(200);
    await expectConsistent(world);
  });

  it('answers an unknown bucket 404, a missing or NUL key 400, a missing object 404, and deletes idempotently', async () => {
    const world = await browserWorld();
    expect(await callJson(world, `/admin/api/objects?${q({ bucket: 'elsewhere', key: 'k' })}`)).toMatchObject({ status: 404 });
    expect(await callJson(world, `/admin/api/objects?${q({ bucket: BUCKET })}`)).toMatchObject({ status: 400 });
    expect(await callJson(world, `/admin/api/objects?${q({ bucket: BUCKET, key: 'a\u0000b' })}`)).toMatchObject({ status: 400 });
    expect(await callJson(world, `/admin/api/objects?${q({ bucket: BUCKET, key: 'nothing' })}`)).toMatchObject({ status: 404, body: { error: 'The specified key does not exist.' } });
    await put(world, 'gone', bytesOf(10));
    for (let i = 0; i < 2; i++) {
      expect(await callJson(world, `/admin/api/objects?${q({ bucket: BUCKET, key: 'gone' })}`, { method: 'DELETE' })).toEqual({ status: 200, body: { deleted: true } });
    }
    await expectConsistent(world);
  });

  it('maps a domain refusal through the one table: no room is 507', async () => {
    const world = await browserWorld([{ name: 'b1', quotaBytes: 100 }]);
    expect(await putBytes(world, 'big', bytesOf(200))).toMatchObject({ status: ADMIN_STATUSES['no-room'] });
    expect(ADMIN_STATUSES['no-room']).toBe(507);
    await expectConsistent(world);
  });
});

describe('tree and buckets routes', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('pages directories and objects together with next_after, and lists every configured bucket', async () => {
    const world = await browserWorld();
    for (const key of ['a/1', 'a/2', 'b', 'c/d/e', 'd']) await put(world, key, bytesOf(10));
    const names: string[] = [];
    let after = '';
    for (;;) {
      const page = await callJson(world, `/admin/api/tree?${q({ bucket: BUCKET, prefix: '', after, limit: '2' })}`);
      expect(page.status).toBe(200);
      const entries = page.body.entries as { name: string; kind: string; objects: number; bytes: number; size?: number }[];
      names.push(...entries.map((e) => `${e.kind}:${e.name}:${e.objects}:${e.bytes}`));
      if (page.body.next_after === null) break;
      after = page.body.next_after as string;
    }
    expect(names).toEqual(['dir:a/:2:20', 'object:b:1:10', 'dir:c/:1:10', 'object:d:1:10']);
    expect(await callJson(world, '/admin/api/buckets')).toEqual({ status: 200, body: { buckets: [{ name: BUCKET, objects: 5, bytes: 50 }] } });
  });

  it('refuses an unknown bucket, a limit out of 1..500, an after that no page could have answered', async () => {
    const world = await browserWorld();
    expect((await callJson(world, `/admin/api/tree?${q({ bucket: 'nope' })}`)).status).toBe(404);
    for (const limit of ['0', '501', 'x', '1.5']) expect((await callJson(world, `/admin/api/tree?${q({ bucket: BUCKET, limit })}`)).status, limit).toBe(400);
    expect((await callJson(world, `/admin/api/tree?${q({ bucket: BUCKET, after: 'a/b' })}`)).status).toBe(400);
    expect(await callJson(world, `/admin/api/tree?${q({ bucket: BUCKET })}`)).toEqual({ status: 200, body: { bucket: BUCKET, prefix: '', entries: [], next_after: null } });
  });
});

describe('upload routes', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('create, parts, complete: the object is the parts in order; abort frees an upload; bad input is 400', async () => {
    const world = await browserWorld();
    const created = await callJson(world, '/admin/api/uploads', { method: 'POST', body: JSON.stringify({ bucket: BUCKET, key: 'big.bin', content_type: 'video/mp4' }) });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({ min_part_size: MIN_PART_BYTES, max_parts: 10_000 });
    const id = created.body.upload_id as string;
    const parts = [bytesOf(MIN_PART_BYTES, 1), bytesOf(1000, 2)];
    const sent: { part_number: number; etag: string }[] = [];
    for (const [i, bytes] of parts.entries()) {
      const part = await callJson(world, `/admin/api/uploads/${id}/parts/${i + 1}?${q({ bucket: BUCKET, key: 'big.bin' })}`, {
        method: 'PUT',
        type: 'application/octet-stream',
        body: bytes,
        length: bytes.byteLength,
      });
      expect(part.status).toBe(200);
      sent.push(part.body as { part_number: number; etag: string });
    }
    for (const bad of ['0', '10001', 'x']) {
      const part = await callJson(world, `/admin/api/uploads/${id}/parts/${bad}?${q({ bucket: BUCKET, key: 'big.bin' })}`, { method: 'PUT', type: 'application/octet-stream', body: '1', length: 1 });
      expect(part.status, bad).toBe(400);
    }
    // An upload id is bound to its key.
    expect((await callJson(world, `/admin/api/uploads/${id}/parts/1?${q({ bucket: BUCKET, key: 'other' })}`, { method: 'PUT', type: 'application/octet-stream', body: '1', length: 1 })).status).toBe(404);
    const complete = (parts: unknown) => callJson(world, `/admin/api/uploads/${id}/complete`, { method: 'POST', body: JSON.stringify({ bucket: BUCKET, key: 'big.bin', parts }) });
    expect((await complete([])).status).toBe(400);
    expect((await complete([{ part_number: 1 }])).status).toBe(400);
    expect((await complete([...sent].reverse())).status).toBe(400);
    const done = await complete(sent);
    expect(done).toMatchObject({ status: 200, body: { bucket: BUCKET, key: 'big.bin', size: MIN_PART_BYTES + 1000 } });
    // Retried after it succeeded: the same answer.
    expect(await complete(sent)).toEqual(done);
    const whole = await read(world, 'big.bin');
    expectSameBytes(whole.subarray(0, MIN_PART_BYTES), parts[0]!);
    expectSameBytes(whole.subarray(MIN_PART_BYTES), parts[1]!);

    const other = await callJson(world, '/admin/api/uploads', { method: 'POST', body: JSON.stringify({ bucket: BUCKET, key: 'dropped' }) });
    const abortPath = `/admin/api/uploads/${other.body.upload_id as string}?${q({ bucket: BUCKET, key: 'dropped' })}`;
    expect(await callJson(world, abortPath, { method: 'DELETE' })).toEqual({ status: 200, body: { aborted: true } });
    expect((await callJson(world, abortPath, { method: 'DELETE' })).status).toBe(404);
    expect(world.backend('b1').uploads.size).toBe(0);
    await expectConsistent(world);
  });
});

describe('delete-prefix', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  const KEYS = ['a/b/1', 'a/b/2', 'a/b/c/3', 'a/b2', 'a/b', 'a%b/1', 'z'];

  async function keysLeft(world: DomainWorld): Promise<string[]> {
    return (await world.database.query<{ key: string }>('select key from objects order by key collate "C"')).map((r) => r.key);
  }

  it('refuses without the exact confirmation and deletes nothing; with it, deletes only keys under the prefix', async () => {
    const world = await browserWorld();
    for (const key of KEYS) await put(world, key, bytesOf(10));
    const send = (body: Record<string, unknown>) => callJson(world, '/admin/api/delete-prefix', { method: 'POST', body: JSON.stringify(body) });
    for (const confirm of [undefined, 'a/b/', `${BUCKET}/a/b`, `${BUCKET}/a/b/ `, `${BUCKET}/`]) {
      expect((await send({ bucket: BUCKET, prefix: 'a/b/', confirm })).status, String(confirm)).toBe(400);
    }
    expect((await send({ bucket: 'nope', prefix: 'a/b/', confirm: 'nope/a/b/' })).status).toBe(404);
    expect(await keysLeft(world)).toEqual([...KEYS].sort());
    expect(await send({ bucket: BUCKET, prefix: 'a/b/', confirm: `${BUCKET}/a/b/` })).toEqual({ status: 200, body: { deleted: 3, failed: 0, more: false } });
    expect(await keysLeft(world)).toEqual(['a%b/1', 'a/b', 'a/b2', 'z']);
    // '%' is a plain byte, not a wildcard.
    expect(await send({ bucket: BUCKET, prefix: 'a%', confirm: `${BUCKET}/a%` })).toEqual({ status: 200, body: { deleted: 1, failed: 0, more: false } });
    expect(await send({ bucket: BUCKET, prefix: '', confirm: `${BUCKET}/` })).toEqual({ status: 200, body: { deleted: 3, failed: 0, more: false } });
    expect(await keysLeft(world)).toEqual([]);
    await expectConsistent(world);
  });

  it('stops at its key budget or its deadline and says more remain', async () => {
    const world = await browserWorld();
    for (let i = 0; i < 7; i++) await put(world, `p/${i}`, bytesOf(10, i));
    const services = world.services;
    expect(await deletePrefix(services, BUCKET, 'p/', { maxKeys: 3, deadline: services.now() + 1000 })).toEqual({ deleted: 3, failed: 0, more: true });
    expect(await deletePrefix(services, BUCKET, 'p/', { maxKeys: 3, deadline: services.now() })).toEqual({ deleted: 0, failed: 0, more: true });
    expect(await deletePrefix(services, BUCKET, 'p/', { maxKeys: 10, deadline: services.now() + 1000 })).toEqual({ deleted: 4, failed: 0, more: false });
    await expectConsistent(world);
  });
});
