/** What a copy's record says about how its bytes are sealed: plain data, shared by the store and the data path. */

/**
 * How a copy's bytes are sealed (docs/storage-layout.md#encrypted-copies): its data key as the key provider
 * wrapped it, the chunk size, and the base nonce of its one segment; a copy written by a multipart upload has one
 * segment per part instead, whose nonces its parts record.
 */
export interface CopyEncryption {
  keyId: string;
  wrappedKey: string;
  chunkSize: number;
  /** base64 of the 12-byte base nonce of a copy written in one piece; absent for one segment per part. */
  baseNonce?: string;
}

/** A part of a copy written by a multipart upload, as its record keeps it. */
export interface PartSegment {
  partNumber: number;
  size: number;
  /** base64 base nonce of the part's segment; null for a part stored as is. */
  nonce: string | null;
}
