/** Structured JSON logs, one line per event, filtered by the configured level. */
import type { LogLevel } from '../config/types.ts';

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  with(fields: LogFields): Logger;
}

export function createLogger(level: LogLevel, base: LogFields = {}): Logger {
  const emit = (at: LogLevel, msg: string, fields?: LogFields) => {
    if (RANK[at] < RANK[level]) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level: at.toUpperCase(), msg, ...base, ...fields });
    if (at === 'error') console.error(line);
    else if (at === 'warn') console.warn(line);
    else console.log(line);
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    with: (fields) => createLogger(level, { ...base, ...fields }),
  };
}

/** The error and its causes (drizzle wraps driver errors: "Failed query ..." caused by the real reason). */
export function errorFields(err: unknown): LogFields {
  if (!(err instanceof Error)) return { error: String(err) };
  const causes: string[] = [];
  for (let cause: unknown = err.cause, depth = 0; cause !== undefined && depth < 4; depth++) {
    causes.push(cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return { error: err.message, error_name: err.name, ...(causes.length > 0 ? { cause: causes.join(' <- ') } : {}) };
}
