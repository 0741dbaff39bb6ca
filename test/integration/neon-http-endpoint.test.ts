/**
 * The local stand-in for Neon's HTTP query endpoint (scripts/lib/neon-http-endpoint.ts, served by the bridge),
 * spoken to by the real driver (`neon()` from @neondatabase/serverless, as the Worker's pool uses it) over a real
 * PostgreSQL 15: values come back parsed as the driver parses Neon's answers, refusals carry Postgres's fields,
 * batches are transactions, and bad requests are refused without touching the database.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import pg from 'pg';
import { startPgBridge, type Bridge } from '../../scripts/lib/pg-ws-bridge.ts';

let bridge: Bridge;
let url: string;
let admin: pg.Client;
let name: string;

beforeAll(async () => {
  const adminUrl = new URL(inject('postgresUrl'));
  // Not s3o_t_*: those are the orchestrator's databases, whose accounting the global teardown checks.
  name = `s3o_neon_http_${Math.random().toString(36).slice(2, 8)}`;
  admin = new pg.Client({ connectionString: adminUrl.href });
  await admin.connect();
  await admin.query(`create database ${name}`);
  adminUrl.pathname = `/${name}`;
  url = adminUrl.href;
  bridge = await startPgBridge({ host: adminUrl.hostname, port: Number(adminUrl.port) });
  neonConfig.fetchEndpoint = () => `http://127.0.0.1:${bridge.port}/sql`;
  const sql = neon(url);
  await sql.query('create table t (id int primary key, name text not null, at timestamptz, data bytea, doc jsonb, big bigint, ok boolean)');
});

afterAll(async () => {
  await bridge?.close();
  await admin?.query(`drop database if exists ${name}`);
  await admin?.end();
});

describe('the local Neon HTTP endpoint', () => {
  it('answers a statement with values parsed as the driver parses Neon (null, int, bigint, bool, jsonb, bytea, timestamptz)', async () => {
    const sql = neon(url);
    await sql.query('insert into t values ($1, $2, $3, $4, $5, $6, $7)', [1, 'a é "b"', new Date('2026-01-02T03:04:05.678Z'), Buffer.from([0, 1, 255]), { k: [1, 'x'] }, '9007199254740993', true]);
    await sql.query('insert into t (id, name) values ($1, $2)', [2, 'nulls']);
    const rows = await sql.query('select * from t order by id');
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ id: 1, name: 'a é "b"', doc: { k: [1, 'x'] }, big: '9007199254740993', ok: true });
    expect((rows[0]!.at as Date).toISOString()).toBe('2026-01-02T03:04:05.678Z');
    expect(Buffer.from(rows[0]!.data as Uint8Array)).toEqual(Buffer.from([0, 1, 255]));
    expect(rows[1]).toMatchObject({ id: 2, at: null, data: null, doc: null, big: null, ok: null });
    const full = await sql.query('update t set ok = false where id > $1', [0], { fullResults: true });
    expect(full).toMatchObject({ command: 'UPDATE', rowCount: 2 });
  });

  it("refuses a statement Postgres refuses with Postgres's error fields, and a string of several statements", async () => {
    const sql = neon(url);
    const duplicate = await sql.query('insert into t (id, name) values (1, $1)', ['again']).catch((err: unknown) => err);
    expect(duplicate).toBeInstanceOf(NeonDbError);
    expect(duplicate).toMatchObject({ code: '23505', constraint: 't_pkey', table: 't' });
    const several = await sql.query('select 1; select 2').catch((err: unknown) => err);
    expect(several).toMatchObject({ code: '42601' });
  });

  it('runs a batch as one transaction: all of it, or none of it when a statement fails', async () => {
    const sql = neon(url);
    const [inserted, counted] = await sql.transaction([
      sql.query('insert into t (id, name) values (10, $1) returning id', ['ten']),
      sql.query('select count(*)::int as n from t'),
    ]);
    expect(inserted).toEqual([{ id: 10 }]);
    expect(counted).toEqual([{ n: 3 }]);
    const failed = await sql
      .transaction([sql.query('insert into t (id, name) values (11, $1)', ['eleven']), sql.query('insert into t (id, name) values (10, $1)', ['dup'])])
      .catch((err: unknown) => err);
    expect(failed).toMatchObject({ code: '23505' });
    expect(await sql.query('select id from t where id = 11')).toEqual([]);
    // The isolation level and read-only mode are the batch's own.
    const [level] = await sql.transaction([sql.query('show transaction_isolation')], { isolationLevel: 'Serializable', readOnly: true });
    expect(level).toEqual([{ transaction_isolation: 'serializable' }]);
    const readOnly = await sql.transaction([sql.query("insert into t (id, name) values (12, 'x')")], { readOnly: true }).catch((err: unknown) => err);
    expect(readOnly).toMatchObject({ code: '25006' });
  });

  it('refuses bad requests with 400 (no connection string, not JSON, no query, bad isolation level) and answers 404 elsewhere', async () => {
    const endpoint = `http://127.0.0.1:${bridge.port}/sql`;
    const post = (body: string, headers: Record<string, string> = { 'neon-connection-string': url }) =>
      fetch(endpoint, { method: 'POST', body, headers });
    const noString = await post(JSON.stringify({ query: 'select 1', params: [] }), {});
    expect(noString.status).toBe(400);
    expect(await noString.json()).toEqual({ message: 'missing Neon-Connection-String' });
    expect((await post('{not json')).status).toBe(400);
    expect((await post(JSON.stringify({ params: [] }))).status).toBe(400);
    expect((await post(JSON.stringify({ query: 'select 1', params: 'x' }))).status).toBe(400);
    const level = await post(JSON.stringify({ queries: [{ query: 'select 1', params: [] }] }), {
      'neon-connection-string': url,
      'neon-batch-isolation-level': 'Chaos',
    });
    expect(level.status).toBe(400);
    expect((await fetch(`http://127.0.0.1:${bridge.port}/other`)).status).toBe(404);
  });

  it('answers 503 when Postgres cannot be reached, which the Worker reads as the database being unavailable', async () => {
    const dead = await startPgBridge({ host: '127.0.0.1', port: 1 });
    try {
      const response = await fetch(`http://127.0.0.1:${dead.port}/sql`, {
        method: 'POST',
        body: JSON.stringify({ query: 'select 1', params: [] }),
        headers: { 'neon-connection-string': url },
      });
      expect(response.status).toBe(503);
      expect(((await response.json()) as { message: string }).message).toMatch(/cannot reach the database/);
    } finally {
      await dead.close();
    }
  });
});
