/** Module types the unit project's workerd loads (wrangler's default rules, plus the `*.data` rule in wrangler.toml). */
declare module '*.wasm' {
  const module: WebAssembly.Module;
  export default module;
}

declare module '*.data' {
  const bytes: ArrayBuffer;
  export default bytes;
}
