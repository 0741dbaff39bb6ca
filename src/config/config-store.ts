/**
 * The config KV namespace as src/ sees it, and the bound on how stale an isolate's view of it may be. The Worker
 * adapts Workers KV to this; the deploy and dev scripts adapt `wrangler kv` to it.
 */

/** Each isolate re-reads a KV-held setting at most this often, so a change reaches it within this bound plus
 *  KV's own propagation (immediate locally; up to about 60 s across Cloudflare's network). */
export const KV_REFRESH_MS = 5_000;

export interface ConfigStore {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, metadata?: Record<string, unknown>): Promise<void>;
  /** One page of keys under `prefix`, in key order; `cursor` is absent on the last page. */
  list(prefix: string, cursor?: string): Promise<{ keys: { name: string; metadata?: unknown }[]; cursor?: string }>;
}

/** A KV value re-read at most every KV_REFRESH_MS by this isolate; a failed read keeps the last value seen. */
export interface RefreshedValue {
  read(store: ConfigStore, now: number): Promise<string | null>;
  /** This isolate's own write, seen at once (the others see it within the bound). */
  remember(value: string, now: number): void;
}

export function refreshedValue(key: string): RefreshedValue {
  let cached: { value: string | null; fetchedAt: number } | undefined;
  return {
    async read(store, now) {
      if (cached && now - cached.fetchedAt < KV_REFRESH_MS) return cached.value;
      let value: string | null;
      try {
        value = await store.get(key);
      } catch {
        value = cached?.value ?? null;
      }
      cached = { value, fetchedAt: now };
      return value;
    },
    remember(value, now) {
      cached = { value, fetchedAt: now };
    },
  };
}
