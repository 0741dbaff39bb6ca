/**
 * Load shedding at the database (src/store/database-gate.ts): with one database call allowed at a time and no
 * queue, a request whose call finds the isolate's only slot taken is answered at once with 503 SlowDown and
 * Retry-After, and nothing of it is recorded; the held request still completes. The slot is held
 * deterministically, not by timing: the test itself holds the key lock a PUT's commit batch waits for.
 */
import { GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestStack, startTestStack } from '../support/stack.ts';

let stack: TestStack;
const TOKEN = 'load-shedding-admin-token-01234';

beforeAll(async () => {
  stack = await startTestStack({
    name: 'shedding',
    admin: { token: TOKEN },
    backends: [{ name: 'only', kind: 'radosgw', quotaBytes: 0 }],
    sections: { server: { log_level: 'warn', database_max_in_flight: 1, database_queue: 0, database_queue_timeout: '30s' } },
  });
});

afterAll(async () => {
  await stack?.expectExactAccounting();
  await stack?.stop();
});

describe('load shedding', () => {
  it('answers 503 SlowDown with Retry-After at once when the isolate has no database slot left, and loses nothing', async () => {
    const client = stack.client(undefined, { maxAttempts: 1 });
    await client.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'free', Body: 'readable' }));

    // Hold the lock the commit of `held` takes, from outside, so that its batch occupies the one slot.
    const locker = new pg.Client({ connectionString: stack.databaseUrl });
    await locker.connect();
    try {
      await locker.query("select pg_advisory_lock(hashtextextended($1 || '/' || $2, 0))", [stack.bucket, 'held']);
      const held = client.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'held', Body: 'waits for the lock' }));
      // The commit batch is waiting on the lock once Postgres shows an ungranted advisory lock.
      for (let i = 0; ; i++) {
        const waiting = await locker.query("select count(*)::int as n from pg_locks where locktype = 'advisory' and not granted");
        if (waiting.rows[0].n > 0) break;
        if (i > 600) throw new Error('the PUT never reached its commit');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      // Any request needing the database now is shed, fast and with the S3 error a client backs off on.
      const refused = await client.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'free' })).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(S3ServiceException);
      const error = refused as S3ServiceException;
      expect(error.name).toBe('SlowDown');
      expect(error.$metadata.httpStatusCode).toBe(503);
      expect(error.$response?.headers['retry-after']).toBe('1');
      // The admin API sheds as JSON, with the same Retry-After.
      const admin = await fetch(`${stack.endpoint}/admin/api/dashboard`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(admin.status).toBe(503);
      expect(admin.headers.get('retry-after')).toBe('1');
      expect(((await admin.json()) as { error: string }).error).toMatch(/overloaded/);
      const shedPut = await client.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'shed', Body: 'never recorded' })).catch((err: unknown) => err);
      expect((shedPut as S3ServiceException).name).toBe('SlowDown');

      await locker.query("select pg_advisory_unlock(hashtextextended($1 || '/' || $2, 0))", [stack.bucket, 'held']);
      await held;
    } finally {
      await locker.end();
    }

    // The held write landed, the shed one left no record, and reads work again.
    const read = await client.send(new GetObjectCommand({ Bucket: stack.bucket, Key: 'held' }));
    expect(await read.Body?.transformToString()).toBe('waits for the lock');
    expect(await stack.query("select key from objects where key = 'shed'")).toEqual([]);
    const metrics = await (await fetch(`${stack.endpoint}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    expect(metrics).toMatch(/s3o_database_shed_total\{reason="queue-full"\} [1-9]/);
  });
});
