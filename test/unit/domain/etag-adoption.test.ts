/**
 * PutObject's ETag taken from the backend instead of hashed on the Worker (`backends[].etag_md5`), in the domain on
 * in-memory backends whose ETag answers the test chooses. An ETag the backend made up shows that it was taken; one
 * that equals the MD5 of the bytes while the backend made something else up shows that the Worker hashed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { RECHECK_EVERY, SAMPLES } from '../../../src/objects/etag-adoption.ts';
import { findObject } from '../../../src/store/objects.ts';
import { put } from '../support/domain-calls.ts';
import { BUCKET, DATABASE_START_TIMEOUT_MS, DOMAIN_TEST_TIMEOUT_MS, type DomainWorld, bytesOf, domainServices, startDomainDatabase } from '../support/domain-services.ts';
import { md5Hex } from '../support/memory-backend.ts';

beforeAll(startDomainDatabase, DATABASE_START_TIMEOUT_MS);

const world = (etagMd5: 'auto' | 'always' | 'never', document: Record<string, unknown> = {}) => domainServices({ backends: [{ name: 'b1', etagMd5 }], document });

/** Answers like a backend whose ETags are not the MD5 of the bytes (SSE-KMS on AWS): 32 hex digits all the same. */
const madeUp = async () => `"${'e'.repeat(32)}"`;

async function putRecorded(w: DomainWorld, key: string, seed: number, md5Base64?: string): Promise<{ etag: string; md5: string }> {
  const bytes = bytesOf(1000 + seed, seed);
  const { etag } = await put(w, key, bytes, md5Base64 === undefined ? {} : { md5Base64 });
  expect((await findObject(w.db, BUCKET, key))?.etag).toBe(etag);
  return { etag, md5: `"${await md5Hex(bytes)}"` };
}

describe('ETag adoption', { timeout: DOMAIN_TEST_TIMEOUT_MS }, () => {
  it('auto: checks the first answers, then takes them, and hashes again for good once a re-check finds a mismatch', async () => {
    const w = await world('auto');
    for (let i = 0; i < SAMPLES; i++) {
      const put = await putRecorded(w, `sample-${i}`, i);
      expect(put.etag).toBe(put.md5);
    }
    // From here the backend's answers are taken: one it makes up is what gets recorded...
    w.backend('b1').answerEtags(madeUp);
    let taken = 0;
    let seed = 100;
    for (;;) {
      const put = await putRecorded(w, `taken-${seed}`, seed++);
      if (put.etag === put.md5) break;
      expect(put.etag).toBe(await madeUp());
      taken++;
    }
    // ...until the periodic re-check hashes one PUT, finds the mismatch, and records its own MD5.
    expect(taken).toBe(RECHECK_EVERY - 1);
    for (let i = 0; i < 3; i++) {
      const put = await putRecorded(w, `after-${i}`, 200 + i);
      expect(put.etag).toBe(put.md5);
    }
    expect(w.logs.some((l) => l.msg.startsWith('backend ETags are not the MD5'))).toBe(true);
  });

  it('auto: a backend whose first answers do not match is never taken', async () => {
    const w = await world('auto');
    w.backend('b1').answerEtags(madeUp);
    for (let i = 0; i < SAMPLES + 3; i++) {
      const put = await putRecorded(w, `k-${i}`, i);
      expect(put.etag).toBe(put.md5);
    }
  });

  it('always: an answer that is not an MD5 fails the PUT with nothing kept, and the retry hashes', async () => {
    const w = await world('always');
    w.backend('b1').answerEtags(async () => '"not-an-md5"');
    await expect(putRecorded(w, 'k', 1)).rejects.toMatchObject({ reason: 'unavailable' });
    expect(await findObject(w.db, BUCKET, 'k')).toBeUndefined();
    await w.settle();
    expect(w.backend('b1').objects.size).toBe(0);
    const retry = await putRecorded(w, 'k', 1);
    expect(retry.etag).toBe(retry.md5);
    expect(await w.accountingDrift()).toEqual([]);
  });

  it('never, a client Content-MD5, and a sealed copy always hash on the Worker', async () => {
    const never = await world('never');
    never.backend('b1').answerEtags(madeUp);
    const plain = await putRecorded(never, 'k', 1);
    expect(plain.etag).toBe(plain.md5);

    const always = await world('always');
    always.backend('b1').answerEtags(madeUp);
    const bytes = bytesOf(1005, 5);
    const md5Base64 = btoa(String.fromCharCode(...(await md5Hex(bytes)).match(/../g)!.map((h) => parseInt(h, 16))));
    expect((await putRecorded(always, 'without', 6)).etag).toBe(await madeUp());
    const checked = await putRecorded(always, 'with-md5', 5, md5Base64);
    expect(checked.etag).toBe(checked.md5);
    // That hashed PUT is evidence too: the answers did not match, so the isolate hashes from now on.
    const after = await putRecorded(always, 'after', 8);
    expect(after.etag).toBe(after.md5);

    const sealed = await world('always', { encryption: { enabled: true, master_key: btoa(String.fromCharCode(...new Uint8Array(32).fill(7))) } });
    sealed.backend('b1').answerEtags(madeUp);
    const encrypted = await putRecorded(sealed, 'sealed', 7);
    expect(encrypted.etag).toBe(encrypted.md5);
  });
});
