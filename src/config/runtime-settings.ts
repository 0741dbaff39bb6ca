/**
 * Settings an operator changes at runtime for the whole fleet (today: the log level), kept in the config KV
 * namespace. Each isolate re-reads them at most every RUNTIME_SETTINGS_TTL_MS, so a change reaches every isolate
 * within that bound plus KV's own propagation (up to about 60 s across Cloudflare's network).
 */
import type { LogLevel } from './types.ts';

export const RUNTIME_SETTINGS_TTL_MS = 5_000;
const KEY = 'runtime-settings';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface RuntimeSettings {
  /** Overrides server.log_level until cleared. */
  logLevel?: LogLevel | undefined;
}

export interface SettingsStore {
  get(key: string): Promise<string | null>;
  put(key: string, value: string): Promise<void>;
}

let cached: { value: RuntimeSettings; fetchedAt: number } | undefined;

export async function readRuntimeSettings(store: SettingsStore | undefined, now = Date.now()): Promise<RuntimeSettings> {
  if (!store) return {};
  if (cached && now - cached.fetchedAt < RUNTIME_SETTINGS_TTL_MS) return cached.value;
  let value: RuntimeSettings;
  try {
    value = parseSettings(await store.get(KEY));
  } catch {
    // An unreadable store keeps the last known settings rather than failing requests.
    value = cached?.value ?? {};
  }
  cached = { value, fetchedAt: now };
  return value;
}

export async function writeRuntimeSettings(store: SettingsStore, settings: RuntimeSettings, now = Date.now()): Promise<void> {
  await store.put(KEY, JSON.stringify(settings));
  // This isolate sees its own change at once; the others within the TTL.
  cached = { value: settings, fetchedAt: now };
}

function parseSettings(text: string | null): RuntimeSettings {
  if (!text) return {};
  const parsed: unknown = JSON.parse(text);
  if (!parsed || typeof parsed !== 'object') return {};
  const level = (parsed as { logLevel?: unknown }).logLevel;
  return { logLevel: typeof level === 'string' && (LOG_LEVELS as readonly string[]).includes(level) ? (level as LogLevel) : undefined };
}
