/**
 * The seam where at-rest encryption meets the data path: how many bytes a new copy occupies, the encoder that
 * turns a client's bytes into stored bytes (and the record that says how to read them back), and how to read a
 * client range of a stored copy. Copies are stored as is, or sealed (envelope-format.ts) under a data key of
 * their own that the key provider wraps.
 */
import type { ByteRange } from '../util/byte-range.ts';
import { fromBase64, toBase64 } from './encoding.ts';
import { type Segment, layOut, planRead, segmentStoredSize } from './envelope-format.ts';
import { KeyError, type KeyInfo, type KeyProvider } from './key-provider.ts';
import type { CopyEncryption, PartSegment } from './sealed-copy.ts';
import { importDataKey, newBaseNonce, newDataKey, openingStream, sealingEncoder } from './segment-cipher.ts';

/** Where the stored bytes go, chunk by chunk. */
export interface ChunkEncoder {
  /** Stored bytes for the next client chunk; the input may be reused as soon as the returned promise settles. */
  update(chunk: Uint8Array): Promise<Uint8Array[]>;
  /** Stored bytes that end the object. */
  final(): Promise<Uint8Array[]>;
}

/** A copy as reads need it: where its bytes are bound (physical key) and how they are sealed, if they are. */
export interface StoredCopyRef {
  physicalKey: string;
  encryption: CopyEncryption | null;
}

export interface ReadPlan {
  storedRange: ByteRange | undefined;
  /**
   * The client's bytes from the stored ones. For a sealed copy it resolves once the first chunks opened (and rejects
   * when they do not); a later failure errors the stream and is passed to `onError`.
   */
  decode(stored: ReadableStream<Uint8Array>, onError?: (err: unknown) => void): Promise<ReadableStream<Uint8Array>>;
}

export interface StorageTransform {
  /** Whether new copies (and new multipart uploads) are sealed. */
  readonly sealing: boolean;
  /** Bytes a new copy written in one piece occupies for a client size. */
  storedSize(clientSize: number): number;
  /** Starts a new copy bound to `physicalKey`: its encoder and the encryption its record keeps (null: as is). */
  writeCopy(physicalKey: string): Promise<{ encoder: ChunkEncoder; encryption: CopyEncryption | null }>;
  /** A new multipart upload's data key (null: its parts are stored as is). */
  startUpload(): Promise<CopyEncryption | null>;
  /** One upload of one part under its upload's key: the encoder, its stored size and the nonce its record keeps. */
  writePart(
    upload: StoredCopyRef,
    partNumber: number,
    clientSize: number,
  ): Promise<{ encoder: ChunkEncoder; storedSize: number; nonce: string | null }>;
  /**
   * How to read the client bytes `range` (all when undefined) of a copy of `clientSize` bytes; a copy sealed per
   * part needs its parts. Throws a KeyError when its data key cannot be unwrapped.
   */
  readCopy(copy: StoredCopyRef, clientSize: number, range: ByteRange | undefined, parts?: readonly PartSegment[]): Promise<ReadPlan>;
  /** The configured keys, primary first; undefined when no key is configured. */
  keys(): Promise<readonly KeyInfo[] | undefined>;
  /** The same data key wrapped by the primary key (what rotation records). Throws a KeyError when it cannot. */
  rewrap(encryption: CopyEncryption): Promise<CopyEncryption>;
}

/** Stores the client's bytes as they are. */
export const asIsEncoder: ChunkEncoder = {
  update: async (chunk) => [chunk],
  final: async () => [],
};

const asIs: ReadPlan['decode'] = async (stored) => stored;

/** Stored bytes of a part sealed as one segment. */
export function sealedPartSize(clientSize: number, encryption: CopyEncryption | null): number {
  return encryption ? segmentStoredSize(clientSize, encryption.chunkSize) : clientSize;
}

/** A copy of a multipart upload sealed per part needs its part list to be read. */
export function needsParts(copy: StoredCopyRef): boolean {
  return copy.encryption !== null && copy.encryption.baseNonce === undefined;
}

export interface AtRestSettings {
  /** Seal new copies. */
  enabled: boolean;
  chunkSize: number;
}

/** Data keys unwrapped lately, by key id and wrapped key; bounded, oldest first out. */
export type DataKeyCache = Map<string, Promise<CryptoKey>>;
const DATA_KEY_CACHE_ENTRIES = 1024;

/**
 * The storage transform for a configuration. `keys` is undefined when no key is configured: copies are then
 * written as is, and a sealed copy cannot be read (KeyError naming its key).
 */
export function atRestStorage(settings: AtRestSettings, keys: (() => Promise<KeyProvider>) | undefined, cache: DataKeyCache): StorageTransform {
  const sealing = settings.enabled && keys !== undefined;
  const provider = async (): Promise<KeyProvider> => {
    if (!keys) throw new KeyError('provider-unavailable', 'none', 'no encryption key is configured');
    return keys();
  };
  const dataKey = (encryption: CopyEncryption): Promise<CryptoKey> => {
    const id = `${encryption.keyId}\n${encryption.wrappedKey}`;
    const cached = cache.get(id);
    if (cached) return cached;
    const opened = (async () => {
      if (!keys) throw new KeyError('unknown-key-id', encryption.keyId, `copy sealed under key ${encryption.keyId}, but no encryption key is configured`);
      return importDataKey(await (await provider()).unwrap({ keyId: encryption.keyId, wrapped: encryption.wrappedKey }));
    })();
    // A failure is not remembered: the next read tries again (Vault may be back).
    opened.catch(() => cache.delete(id));
    cache.set(id, opened);
    if (cache.size > DATA_KEY_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    return opened;
  };
  const newKey = async (): Promise<{ key: CryptoKey; encryption: CopyEncryption }> => {
    const raw = newDataKey();
    const wrapped = await (await provider()).wrap(raw);
    const encryption = { keyId: wrapped.keyId, wrappedKey: wrapped.wrapped, chunkSize: settings.chunkSize };
    const key = await importDataKey(raw);
    cache.set(`${encryption.keyId}\n${encryption.wrappedKey}`, Promise.resolve(key));
    return { key, encryption };
  };
  return {
    sealing,
    storedSize: (clientSize) => (sealing ? segmentStoredSize(clientSize, settings.chunkSize) : clientSize),
    async writeCopy(physicalKey) {
      if (!sealing) return { encoder: asIsEncoder, encryption: null };
      const { key, encryption } = await newKey();
      const baseNonce = newBaseNonce();
      const encoder = sealingEncoder({ key, identity: physicalKey, segment: 0, chunkSize: encryption.chunkSize, baseNonce });
      return { encoder, encryption: { ...encryption, baseNonce: toBase64(baseNonce) } };
    },
    async startUpload() {
      return sealing ? (await newKey()).encryption : null;
    },
    async writePart(upload, partNumber, clientSize) {
      const encryption = upload.encryption;
      if (!encryption) return { encoder: asIsEncoder, storedSize: clientSize, nonce: null };
      // A fresh nonce for every upload of a part: uploading a part number again never reuses one under the key.
      const baseNonce = newBaseNonce();
      const key = await dataKey(encryption);
      const encoder = sealingEncoder({ key, identity: upload.physicalKey, segment: partNumber, chunkSize: encryption.chunkSize, baseNonce });
      return { encoder, storedSize: segmentStoredSize(clientSize, encryption.chunkSize), nonce: toBase64(baseNonce) };
    },
    async readCopy(copy, clientSize, range, parts) {
      const encryption = copy.encryption;
      if (!encryption) return { storedRange: range, decode: asIs };
      const key = await dataKey(encryption);
      const segments = segmentsOf(encryption, clientSize, parts);
      const plan = planRead(segments, encryption.chunkSize, range);
      const open = { key, identity: copy.physicalKey, chunkSize: encryption.chunkSize, units: plan.units, skip: plan.skip, length: plan.length };
      return { storedRange: plan.stored, decode: (stored, onError) => openingStream(stored, open, onError) };
    },
    async keys() {
      return keys ? (await keys()).keys : undefined;
    },
    async rewrap(encryption) {
      const keyProvider = await provider();
      const raw = await keyProvider.unwrap({ keyId: encryption.keyId, wrapped: encryption.wrappedKey });
      const wrapped = await keyProvider.wrap(raw);
      return { ...encryption, keyId: wrapped.keyId, wrappedKey: wrapped.wrapped };
    },
  };
}

function segmentsOf(encryption: CopyEncryption, clientSize: number, parts: readonly PartSegment[] | undefined): Segment[] {
  if (encryption.baseNonce !== undefined) {
    return [{ number: 0, plainStart: 0, plainSize: clientSize, storedStart: 0, baseNonce: nonceBytes(encryption.baseNonce) }];
  }
  if (!parts || parts.length === 0) throw new Error('a copy sealed per part was read without its parts');
  return layOut(
    parts.map((p) => ({ number: p.partNumber, plainSize: p.size, baseNonce: nonceBytes(p.nonce ?? '') })),
    encryption.chunkSize,
  );
}

function nonceBytes(text: string): Uint8Array {
  const bytes = fromBase64(text);
  if (!bytes || bytes.byteLength !== 12) throw new Error('a sealed copy record has a malformed nonce');
  return bytes;
}
