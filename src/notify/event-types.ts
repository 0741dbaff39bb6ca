/**
 * Every notification the orchestrator sends, by its CloudEvents `type`. Data events (`s3:...`, named as S3's own
 * event notifications name them) have `bucket/key` subjects; operational events have a backend name (or a config
 * version, a job id) as their subject. docs/notifications.md describes each one's `data`.
 */
export const DATA_EVENT_TYPES = [
  's3:ObjectCreated:Put',
  's3:ObjectCreated:Copy',
  's3:ObjectCreated:CompleteMultipartUpload',
  's3:ObjectRemoved:Delete',
  's3:ObjectRemoved:DeleteBatch',
] as const;

export const OPERATIONAL_EVENT_TYPES = [
  'backend.circuit.opened',
  'backend.circuit.closed',
  'backend.capacity.warning',
  'backend.drain.completed',
  'backend.drain.failed',
  'backend.removed',
  'config.version.activated',
  'job.completed',
] as const;

export type DataEventType = (typeof DATA_EVENT_TYPES)[number];
export type OperationalEventType = (typeof OPERATIONAL_EVENT_TYPES)[number];
export type EventType = DataEventType | OperationalEventType;

export const EVENT_TYPES: readonly EventType[] = [...DATA_EVENT_TYPES, ...OPERATIONAL_EVENT_TYPES];

export function isDataEvent(type: string): type is DataEventType {
  return (DATA_EVENT_TYPES as readonly string[]).includes(type);
}

/**
 * Whether `pattern` selects `type`: `*` selects every type, `s3:ObjectCreated:*` (a trailing `*`) every type that
 * starts with what comes before it, anything else only that exact type.
 */
export function patternMatches(pattern: string, type: string): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** Why a configured pattern can never select anything, or undefined when it selects at least one known type. */
export function patternProblem(pattern: string): string | undefined {
  const star = pattern.indexOf('*');
  if (star >= 0 && star !== pattern.length - 1) return `${JSON.stringify(pattern)}: "*" may only end a pattern (e.g. "s3:ObjectCreated:*" or "*")`;
  if (EVENT_TYPES.some((type) => patternMatches(pattern, type))) return undefined;
  return `${JSON.stringify(pattern)} matches no event type (known: ${EVENT_TYPES.join(', ')})`;
}
