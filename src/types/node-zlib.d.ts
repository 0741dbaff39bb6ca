// The one piece of node:zlib the Worker uses (nodejs_compat provides it natively); declared here because the
// Worker's types are workers-types, not @types/node.
declare module 'node:zlib' {
  export const crc32: ((data: Uint8Array, value?: number) => number) | undefined;
}
