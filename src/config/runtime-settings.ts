/**
 * Settings an operator changes at runtime for the whole fleet (today: the log level), kept in the config KV
 * namespace and re-read by each isolate within KV_REFRESH_MS.
 */
import { type ConfigStore, refreshedValue } from './config-store.ts';
import { LOG_LEVELS } from './schema.ts';
import type { LogLevel } from './types.ts';

export { LOG_LEVELS };

export interface RuntimeSettings {
  /** Overrides server.log_level until cleared. */
  logLevel?: LogLevel | undefined;
}

const settings = refreshedValue('runtime-settings');

export async function readRuntimeSettings(store: ConfigStore | undefined, now = Date.now()): Promise<RuntimeSettings> {
  if (!store) return {};
  return parseSettings(await settings.read(store, now));
}

export async function writeRuntimeSettings(store: ConfigStore, value: RuntimeSettings, now = Date.now()): Promise<void> {
  const text = JSON.stringify(value);
  await store.put('runtime-settings', text);
  settings.remember(text, now);
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
