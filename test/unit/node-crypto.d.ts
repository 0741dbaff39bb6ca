/**
 * Unit tests run in Node, but this tsconfig types them as Worker code (no @types/node). The webhook signature test
 * checks the WebCrypto HMAC against Node's own, independent implementation; this is the one function it uses.
 */
declare module 'node:crypto' {
  interface Hmac {
    update(data: string | Uint8Array, encoding?: 'utf8'): Hmac;
    digest(encoding: 'hex'): string;
  }
  export function createHmac(algorithm: 'sha256', key: string): Hmac;
}
