/**
 * Settings an operator changes at runtime for the whole fleet (today: the log level), kept in the config KV
 * namespace and re-read by each isolate within KV_REFRESH_MS.
 */
import { type ConfigStore, type RefreshedValue, refreshedValue } from './config-store.ts';
import { LOG_LEVELS } from './schema.ts';
import type { LogLevel } from './types.ts';

export { LOG_LEVELS };

export interface RuntimeSettings {
  /** Overrides server.log_level until cleared. */
  logLevel?: LogLevel | undefined;
}

/** The isolate's view of the settings (one per isolate: src/runtime/isolate.ts). */
export function runtimeSettingsCache(): RefreshedValue {
  return refreshedValue('runtime-settings');
}

export async function readRuntimeSettings(store: ConfigStore | undefined, cache: RefreshedValue, now: number): Promise<RuntimeSettings> {
  if (!store) return {};
  return parseSettings(await cache.read(store, now));
}

export async function writeRuntimeSettings(store: ConfigStore, cache: RefreshedValue, value: RuntimeSettings, now: number): Promise<void> {
  const text = JSON.stringify(value);
  await store.put('runtime-settings', text);
  cache.remember(text, now);
}

function parseSettings(text: string | null): RuntimeSettings {
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (!parsed || typeof parsed !== 'object') return {};
  const level = (parsed as { logLevel?: unknown }).logLevel;
  return { logLevel: typeof level === 'string' && (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : undefined };
}
