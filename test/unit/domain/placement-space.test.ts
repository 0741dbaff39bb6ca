/**
 * Client writes are placed by the backends' space an isolate read less than SPACE_CACHE_MS ago (one database round
 * trip fewer per PUT), and what they place counts on it until the next read. The commit checks room and mode again:
 * a write placed by stale figures moves to a backend that can take it, it is never refused or recorded wrongly.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { deleteObject } from '../../../src/objects/delete-object.ts';
import { createUpload, requireUpload, uploadPart } from '../../../src/objects/multipart.ts';
import { SPACE_CACHE_MS } from '../../../src/objects/placement.ts';
import { setBackendMode } from '../../../src/store/backend-states.ts';
import { expectConsistent, expectSameBytes, locations, put, read } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, bodyOf, DOMAIN_TEST_TIMEOUT_MS, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const MOVED = 'upload moved to a backend with room after losing the race for its first';

describe('placement by recently read space', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('a drain that started since the last read: the write moves to another backend, not refused', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    await put(world, 'first', bytesOf(100, 1));
    expect(await locations(world, 'first')).toEqual(['b1']);
    // What the backend's Durable Object does as a drain starts; this isolate read b1 as active a moment ago.
    await setBackendMode(world.db, 'b1', 'draining');
    await put(world, 'second', bytesOf(200, 2));
    expect(await locations(world, 'second')).toEqual(['b2']);
    expect(world.logs.filter((l) => l.msg === MOVED)).toHaveLength(1);
    expect([...world.backend('b1').objects.keys()]).toHaveLength(1);
    expectSameBytes(await read(world, 'second'), bytesOf(200, 2));

    // The failed commit dropped what was remembered: the next write reads the space again and goes to b2 at once.
    await put(world, 'third', bytesOf(300, 3));
    expect(await locations(world, 'third')).toEqual(['b2']);
    expect(world.logs.filter((l) => l.msg === MOVED)).toHaveLength(1);
    await expectConsistent(world);
  });

  it('figures older than SPACE_CACHE_MS are read again', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    await put(world, 'first', bytesOf(100, 1));
    world.clock.advance(SPACE_CACHE_MS);
    await setBackendMode(world.db, 'b1', 'draining');
    await put(world, 'second', bytesOf(200, 2));
    expect(await locations(world, 'second')).toEqual(['b2']);
    expect(world.logs.filter((l) => l.msg === MOVED)).toHaveLength(0);
    await expectConsistent(world);
  });

  it('a burst from one isolate spreads: each placement counts the copies placed before it', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 100_000 }, { name: 'b2', quotaBytes: 100_000 }], routingStrategy: 'spread' });
    for (let i = 0; i < 6; i++) await put(world, `k${i}`, bytesOf(1000, i + 1));
    const placed = await Promise.all(Array.from({ length: 6 }, (_, i) => locations(world, `k${i}`)));
    expect(placed.flat().filter((b) => b === 'b1')).toHaveLength(3);
    expect(placed.flat().filter((b) => b === 'b2')).toHaveLength(3);
    await expectConsistent(world);
  });

  it('never refuses by remembered figures: a write they see no room for is placed by a fresh read', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1000 }] });
    await put(world, 'k', bytesOf(600, 1));
    await deleteObject(world.services, BUCKET, 'k');
    // Remembered: 600 bytes placed on b1 a moment ago. Read now: b1 is empty.
    await put(world, 'k', bytesOf(600, 2));
    expect(await locations(world, 'k')).toEqual(['b1']);
    expectSameBytes(await read(world, 'k'), bytesOf(600, 2));
    await expectConsistent(world);
  });

  it('room held by a part this isolate just recorded is seen by the next placement (a commit would not check it)', async () => {
    const world = await domainServices({ backends: [{ name: 'b1', quotaBytes: 1000 }, { name: 'b2', quotaBytes: 1000 }] });
    const uploadId = await createUpload(world.services, { bucket: BUCKET, key: 'big', contentType: 'x', metadata: {}, headers: {} });
    const upload = await requireUpload(world.services, uploadId, BUCKET, 'big');
    expect(upload.backendName).toBe('b1');
    await uploadPart(world.services, upload, { partNumber: 1, source: bodyOf(bytesOf(700, 1)), size: 700, expect: {} });
    await put(world, 'small', bytesOf(400, 2));
    expect(await locations(world, 'small')).toEqual(['b2']);
    await expectConsistent(world);
  });

  it('a multipart upload is placed by a fresh read: it never starts on a backend that began draining', async () => {
    const world = await domainServices({ backends: ['b1', 'b2'] });
    await put(world, 'first', bytesOf(100, 1));
    await setBackendMode(world.db, 'b1', 'draining');
    const uploadId = await createUpload(world.services, { bucket: BUCKET, key: 'big', contentType: 'x', metadata: {}, headers: {} });
    expect((await requireUpload(world.services, uploadId, BUCKET, 'big')).backendName).toBe('b2');
  });
});
