/**
 * The audit trail: one JSON line per admin action and per S3 data mutation, shaped like the Go reference's
 * (message `audit`, `audit: true`, `event`, `request_id`), and counted fleet-wide as `s3o_audit_events_total{event}`.
 * Each surface builds its records in one place (src/admin/admin-audit.ts, src/s3/s3-audit.ts) from values it picks
 * one by one (names, sizes, counts), never from a header or a body wholesale, so no secret can reach a record.
 */
import type { EventCounters } from './fleet-counters.ts';

/** A parameter's value: a name, a size, a flag, or a list of names (a config push's changed fields). */
export type AuditValue = string | number | boolean | readonly string[];
export type AuditParams = Readonly<Record<string, AuditValue>>;

/** success: 2xx/3xx; refused: the caller's mistake or a refusal (4xx); failed: ours (5xx). */
export type AuditOutcome = 'success' | 'refused' | 'failed';

export interface AuditRecord {
  /** `admin.<action>` or `s3.<AWS operation>`. */
  event: string;
  request_id: string;
  /** Who: the admin caller (Access identity, "development token", ...) or the S3 client's access key id. */
  actor: string;
  params: AuditParams;
  status: number;
  outcome: AuditOutcome;
}

/** The fleet counter behind s3o_audit_events_total: "audit_events:<event>". */
export const AUDIT_COUNTER = 'audit_events';

export function outcomeOf(status: number): AuditOutcome {
  return status < 400 ? 'success' : status < 500 ? 'refused' : 'failed';
}

/** What writing a record needs; Services has both. */
export interface AuditSink {
  counters: EventCounters;
  now(): number;
}

/**
 * Writes the record as one log line and counts it. Neither waits: the line goes to the console, the count to
 * waitUntil. The line is written whatever the log level, since an audit trail that a `warn` level silences is none.
 */
export function emitAudit(sink: AuditSink, record: AuditRecord): void {
  console.log(JSON.stringify({ time: new Date(sink.now()).toISOString(), level: 'INFO', msg: 'audit', audit: true, ...record }));
  sink.counters.add(`${AUDIT_COUNTER}:${record.event}`);
}

/** Parameters without the ones not known (undefined), so a record lists only what was there. */
export function knownParams(params: Readonly<Record<string, AuditValue | undefined>>): AuditParams {
  return Object.fromEntries(Object.entries(params).filter((entry): entry is [string, AuditValue] => entry[1] !== undefined));
}
