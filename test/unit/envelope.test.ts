/**
 * The at-rest format: round trips at every size around chunk boundaries, every range of small objects, multipart
 * segments, and the attacks it must refuse (a flipped byte, swapped chunks, chunks of another object, a cut at a
 * chunk boundary with or without a forged record).
 */
import { describe, expect, it } from 'vitest';
import { HEADER_BYTES, TAG_BYTES, type Segment, layOut, planRead, segmentStoredSize } from '../../src/crypto/envelope-format.ts';
import { CiphertextError, importDataKey, newBaseNonce, newDataKey, openingStream, sealingEncoder } from '../../src/crypto/segment-cipher.ts';
import { KeyError, createKeyProvider, inlineKeyId } from '../../src/crypto/key-provider.ts';
import { fromBase64, toBase64 } from '../../src/crypto/encoding.ts';
import { concatBytes } from '../support/patterns.ts';

const IDENTITY = 'bucket/photos/cat.jpg~0000abcde0123456789abcdef';

function patterned(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

const concat = concatBytes;

/** Seals `plain` as one segment, fed to the encoder in pieces of `piece` bytes. */
async function seal(key: CryptoKey, plain: Uint8Array, chunkSize: number, options: { piece?: number; segment?: number; baseNonce?: Uint8Array; identity?: string } = {}) {
  const baseNonce = options.baseNonce ?? newBaseNonce();
  const encoder = sealingEncoder({ key, identity: options.identity ?? IDENTITY, segment: options.segment ?? 0, chunkSize, baseNonce });
  const out: Uint8Array[] = [];
  const piece = options.piece ?? 7;
  for (let at = 0; at < plain.byteLength; at += piece) out.push(...(await encoder.update(plain.slice(at, at + piece))));
  out.push(...(await encoder.final()));
  return { stored: concat(out), baseNonce };
}

function streamOf(bytes: Uint8Array, piece = 5): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.byteLength) return controller.close();
      controller.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return concat(parts);
}

async function open(key: CryptoKey, stored: Uint8Array, segments: Segment[], chunkSize: number, range?: { start: number; end: number }, identity = IDENTITY) {
  const plan = planRead(segments, chunkSize, range);
  const bytes = plan.stored ? stored.subarray(plan.stored.start, Math.min(plan.stored.end + 1, stored.byteLength)) : stored;
  return readAll(await openingStream(streamOf(bytes), { key, identity, chunkSize, units: plan.units, skip: plan.skip, length: plan.length }));
}

function single(plainSize: number, baseNonce: Uint8Array): Segment[] {
  return [{ number: 0, plainStart: 0, plainSize, storedStart: 0, baseNonce }];
}

describe('envelope format', () => {
  it('round-trips every size around the chunk boundaries, at the size the arithmetic says', async () => {
    const key = await importDataKey(newDataKey());
    const chunkSize = 16;
    for (const size of [0, 1, 15, 16, 17, 31, 32, 33, 48, 100]) {
      const plain = patterned(size);
      const { stored, baseNonce } = await seal(key, plain, chunkSize);
      expect(stored.byteLength, `stored size of ${size}`).toBe(segmentStoredSize(size, chunkSize));
      expect(await open(key, stored, single(size, baseNonce), chunkSize), `size ${size}`).toEqual(plain);
    }
    expect(segmentStoredSize(0, 65536)).toBe(HEADER_BYTES + TAG_BYTES);
    expect(segmentStoredSize(65536, 65536)).toBe(HEADER_BYTES + 65536 + TAG_BYTES);
    expect(segmentStoredSize(65537, 65536)).toBe(HEADER_BYTES + 65537 + 2 * TAG_BYTES);
  });

  it('reads every range of a small object from only the chunks it needs', async () => {
    const key = await importDataKey(newDataKey());
    const chunkSize = 8;
    const plain = patterned(37);
    const { stored, baseNonce } = await seal(key, plain, chunkSize, { piece: 3 });
    const segments = single(plain.byteLength, baseNonce);
    for (let start = 0; start < plain.byteLength; start++) {
      for (let end = start; end < plain.byteLength; end++) {
        const plan = planRead(segments, chunkSize, { start, end });
        const chunksNeeded = Math.floor(end / chunkSize) - Math.floor(start / chunkSize) + 1;
        expect(plan.units.filter((u) => u.kind === 'chunk')).toHaveLength(chunksNeeded);
        expect(await open(key, stored, segments, chunkSize, { start, end }), `${start}-${end}`).toEqual(plain.slice(start, end + 1));
      }
    }
  });

  it('reads a multipart copy (one segment per part, an empty part among them) whole and by ranges across parts', async () => {
    const key = await importDataKey(newDataKey());
    const chunkSize = 8;
    const sizes = [20, 0, 17, 9];
    const parts = sizes.map((size, i) => ({ number: i + 1, plain: patterned(size, i + 2) }));
    const sealed = await Promise.all(parts.map((p) => seal(key, p.plain, chunkSize, { segment: p.number })));
    const stored = concat(sealed.map((s) => s.stored));
    const segments = layOut(parts.map((p, i) => ({ number: p.number, plainSize: p.plain.byteLength, baseNonce: sealed[i]!.baseNonce })), chunkSize);
    const plain = concat(parts.map((p) => p.plain));
    expect(stored.byteLength).toBe(sizes.reduce((n, s) => n + segmentStoredSize(s, chunkSize), 0));
    expect(await open(key, stored, segments, chunkSize)).toEqual(plain);
    for (const [start, end] of [[0, 45], [5, 30], [19, 20], [20, 20], [18, 40], [37, 45], [44, 45]] as const) {
      expect(await open(key, stored, segments, chunkSize, { start, end }), `${start}-${end}`).toEqual(plain.slice(start, end + 1));
    }
  });

  it('refuses a flipped byte, swapped chunks, another identity or segment, and a cut at a chunk boundary', async () => {
    const key = await importDataKey(newDataKey());
    const chunkSize = 16;
    const plain = patterned(48);
    const { stored, baseNonce } = await seal(key, plain, chunkSize);
    const segments = single(48, baseNonce);
    const problem = (p: Promise<unknown>) => p.then(() => 'opened', (err: unknown) => (err instanceof CiphertextError ? err.problem : String(err)));

    const flipped = stored.slice();
    flipped[HEADER_BYTES + 20] = flipped[HEADER_BYTES + 20]! ^ 1;
    expect(await problem(open(key, flipped, segments, chunkSize))).toBe('tampered');

    const unit = chunkSize + TAG_BYTES;
    const swapped = stored.slice();
    swapped.set(stored.subarray(HEADER_BYTES, HEADER_BYTES + unit), HEADER_BYTES + unit);
    swapped.set(stored.subarray(HEADER_BYTES + unit, HEADER_BYTES + 2 * unit), HEADER_BYTES);
    expect(await problem(open(key, swapped, segments, chunkSize))).toBe('tampered');

    expect(await problem(open(key, stored, segments, chunkSize, undefined, 'bucket/other~0000'))).toBe('tampered');
    expect(await problem(open(key, stored, [{ ...segments[0]!, number: 2 }], chunkSize))).toBe('tampered');

    // Cut after two of three chunks: the record still says 48 bytes, so the third chunk is missing.
    const cut = stored.subarray(0, HEADER_BYTES + 2 * unit);
    expect(await problem(open(key, cut, segments, chunkSize))).toBe('truncated');
    // With the record forged to 32 bytes too, the second chunk was sealed as not last and does not open as last.
    expect(await problem(open(key, cut, single(32, baseNonce), chunkSize))).toBe('tampered');
    // Bytes after the last chunk, and a header that is not the record's.
    expect(await problem(open(key, concat([stored, new Uint8Array(3)]), segments, chunkSize))).toBe('trailing-bytes');
    expect(await problem(open(key, stored, single(48, newBaseNonce()), chunkSize))).toBe('bad-header');
    // Chunks of another object under the same key and nonce do not open under this identity.
    const other = await seal(key, plain, chunkSize, { baseNonce, identity: 'bucket/other~1' });
    expect(await problem(open(key, other.stored, segments, chunkSize))).toBe('tampered');
  });
});

describe('key provider', () => {
  const keyA = toBase64(patterned(32, 1));
  const keyB = toBase64(patterned(32, 2));

  it('names keys by fingerprint, so the old key keeps its id after moving to previous_keys', async () => {
    const before = await createKeyProvider({ masterKey: keyA, previousKeys: [] });
    const wrapped = await before.wrap(newDataKey());
    const after = await createKeyProvider({ masterKey: keyB, previousKeys: [keyA] });
    expect(wrapped.keyId).toBe(await inlineKeyId(fromBase64(keyA)!));
    expect(after.primaryId).not.toBe(wrapped.keyId);
    expect(after.keys).toEqual([
      { id: after.primaryId, alias: 'config-0', primary: true },
      { id: wrapped.keyId, alias: 'config-1', primary: false },
    ]);
    expect(await after.unwrap(wrapped)).toEqual(await before.unwrap(wrapped));
  });

  it('refuses an unknown key id and a wrapped key that does not open, naming the key', async () => {
    const provider = await createKeyProvider({ masterKey: keyA, previousKeys: [] });
    const wrapped = await provider.wrap(newDataKey());
    const failure = (p: Promise<unknown>) => p.then(() => 'opened', (err: unknown) => (err instanceof KeyError ? `${err.reason} ${err.keyId}` : String(err)));
    expect(await failure(provider.unwrap({ keyId: 'k-0000000000000000', wrapped: wrapped.wrapped }))).toBe('unknown-key-id k-0000000000000000');
    const bytes = fromBase64(wrapped.wrapped)!;
    bytes[20] = bytes[20]! ^ 1;
    expect(await failure(provider.unwrap({ keyId: wrapped.keyId, wrapped: toBase64(bytes) }))).toBe(`unwrap-failed ${wrapped.keyId}`);
  });
});

describe('Vault Transit key provider', () => {
  /**
   * Vault cannot run here (no registry ships it), so this stands in for its Transit API as documented
   * (POST /v1/<mount>/encrypt/<key> and /decrypt/<key>, X-Vault-Token): a mock, checked for the calls it receives.
   */
  function fakeTransit(token: string) {
    const calls: string[] = [];
    let down = false;
    const fetcher = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = String(input);
      calls.push(`${init?.method} ${url}`);
      if (down) throw new TypeError('fetch failed: connection refused');
      if (new Headers(init?.headers).get('x-vault-token') !== token) return new Response('{"errors":["permission denied"]}', { status: 403 });
      const body = JSON.parse(String(init?.body)) as { plaintext?: string; ciphertext?: string };
      if (url.endsWith('/v1/transit/encrypt/s3o')) return Response.json({ data: { ciphertext: `vault:v1:${btoa(`sealed:${body.plaintext}`)}` } });
      if (url.endsWith('/v1/transit/decrypt/s3o')) {
        const inner = atob((body.ciphertext ?? '').replace(/^vault:v1:/, ''));
        if (!inner.startsWith('sealed:')) return new Response('{"errors":["cipher: message authentication failed"]}', { status: 400 });
        return Response.json({ data: { plaintext: inner.slice('sealed:'.length) } });
      }
      return new Response('{"errors":[]}', { status: 404 });
    };
    return { fetcher: fetcher as typeof fetch, calls, setDown: (value: boolean) => void (down = value) };
  }
  const vault = { address: 'https://vault.example.com:8200', token: 's.token', keyName: 's3o', mountPath: 'transit' };
  const failure = (p: Promise<unknown>) => p.then(() => 'opened', (err: unknown) => (err instanceof KeyError ? `${err.reason} ${err.keyId}` : String(err)));

  it('wraps with Transit under a stable id, unwraps, and keeps inline previous keys beside it', async () => {
    const transit = fakeTransit('s.token');
    const inline = toBase64(patterned(32, 5));
    const old = await (await createKeyProvider({ masterKey: inline, previousKeys: [] })).wrap(newDataKey());
    const provider = await createKeyProvider({ vault, previousKeys: [inline] }, transit.fetcher);
    expect(provider.primaryId).toBe('vault:transit/s3o');
    const dataKey = newDataKey();
    const wrapped = await provider.wrap(dataKey);
    expect(wrapped).toMatchObject({ keyId: 'vault:transit/s3o', wrapped: expect.stringMatching(/^vault:v1:/) });
    expect(await provider.unwrap(wrapped)).toEqual(dataKey);
    expect(transit.calls).toEqual(['POST https://vault.example.com:8200/v1/transit/encrypt/s3o', 'POST https://vault.example.com:8200/v1/transit/decrypt/s3o']);
    expect(await provider.unwrap(old)).toHaveLength(32);
  });

  it('tells a ciphertext Vault refuses from Vault being away or refusing the token', async () => {
    const transit = fakeTransit('s.token');
    const provider = await createKeyProvider({ vault, previousKeys: [] }, transit.fetcher);
    expect(await failure(provider.unwrap({ keyId: 'vault:transit/s3o', wrapped: 'vault:v1:bm90LW91cnM=' }))).toBe('unwrap-failed vault:transit/s3o');
    transit.setDown(true);
    expect(await failure(provider.wrap(newDataKey()))).toBe('provider-unavailable vault:transit/s3o');
    const wrongToken = await createKeyProvider({ vault: { ...vault, token: 'wrong' }, previousKeys: [] }, fakeTransit('s.token').fetcher);
    expect(await failure(wrongToken.wrap(newDataKey()))).toBe('provider-unavailable vault:transit/s3o');
  });
});
