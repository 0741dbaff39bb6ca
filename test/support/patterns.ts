/**
 * Deterministic test bytes, the same in Node and in workerd (no imports): each a linear congruential sequence from
 * a seed, so a read can be checked against what was written without keeping it.
 */

/** `size` bytes from a numeric seed (distinct per seed). */
export function seededBytes(size: number, seed = 1): Uint8Array {
  return sequence(size, (seed * 2654435761) >>> 0);
}

/** `size` bytes for a key's `round`-th write: distinct per key and round. */
export function keyedBytes(key: string, round: number, size: number): Uint8Array {
  return sequence(size, [...`${key}#${round}`].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

function sequence(size: number, start: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = start;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}
