/**
 * What the unit project's global setup (Node) hands the tests in workerd, typed once for both sides: vitest's
 * `provide` and `inject` take their keys from this augmentation.
 */
declare module 'vitest' {
  export interface ProvidedContext {
    /** Base64 of the gzipped data directory of a freshly migrated PGlite database (PGlite's dumpDataDir). */
    migratedPgliteDump: string;
    /** Base64 of PGlite's own files (pglite.wasm, initdb.wasm, pglite.data), which workerd cannot read from disk. */
    pgliteFiles: { pgliteWasm: string; initdbWasm: string; fsBundle: string };
  }
}

export const MIGRATED_PGLITE_DUMP = 'migratedPgliteDump';
export const PGLITE_FILES = 'pgliteFiles';
