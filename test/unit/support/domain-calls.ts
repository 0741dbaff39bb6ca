/** The domain operations as the S3 layer calls them, and checks of what they leave behind, for domain tests. */
import { expect } from 'vitest';
import { openObject } from '../../../src/objects/read-object.ts';
import { putObject } from '../../../src/objects/put-object.ts';
import { findObject } from '../../../src/store/objects.ts';
import { BUCKET, type DomainWorld, bodyOf } from './domain-services.ts';

/** PutObject as the S3 layer calls it, for a plain body (with what the client promised about it, if anything). */
export function put(world: DomainWorld, key: string, bytes: Uint8Array, promised: { md5Base64?: string } = {}) {
  return putObject(world.services, {
    bucket: BUCKET,
    key,
    source: bodyOf(bytes),
    size: bytes.byteLength,
    contentType: 'application/octet-stream',
    metadata: {},
    headers: {},
    expect: promised,
  });
}

/** GetObject's bytes (the whole object, from the first copy that answers). */
export async function read(world: DomainWorld, key: string): Promise<Uint8Array> {
  const opened = await openObject(world.services, BUCKET, key, new Headers());
  if (opened.notModified) throw new Error('unexpected 304');
  return new Uint8Array(await new Response(opened.body).arrayBuffer());
}

/** The backends holding the key's copies, oldest copy first. */
export async function locations(world: DomainWorld, key: string): Promise<string[]> {
  return (await findObject(world.db, BUCKET, key))?.locations.map((l) => l.backendName) ?? [];
}

/** Every copy recorded is on its backend, and every object on a backend is a recorded copy (nothing lingers). */
/** The two invariants every domain test ends on: bytes_used is exact, and the backends hold exactly what is recorded. */
export async function expectConsistent(world: DomainWorld): Promise<void> {
  expect(await world.accountingDrift()).toEqual([]);
  await expectStoredAsRecorded(world);
}

export async function expectStoredAsRecorded(world: DomainWorld): Promise<void> {
  const recorded = await world.database.query<{ backend_name: string; physical_key: string }>('select backend_name, physical_key from object_locations');
  for (const name of world.config.backends.map((b) => b.name)) {
    const onBackend = [...world.backend(name).objects.keys()].sort();
    expect(onBackend, `objects on ${name}`).toEqual(recorded.filter((r) => r.backend_name === name).map((r) => r.physical_key).sort());
  }
}

/** Byte-for-byte equality, fast for megabytes (a deep toEqual compares element by element and takes seconds). */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.byteLength, 'length').toBe(expected.byteLength);
  expect(actual.findIndex((byte, i) => byte !== expected[i]), 'first differing byte').toBe(-1);
}
