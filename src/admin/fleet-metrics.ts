/**
 * The /metrics families, gathered at scrape time from where each value is kept for the whole fleet: request and
 * backend-call counts from the metrics shards (this isolate's sent first), quotas, inventory and usage from
 * Postgres, drain progress from each backend's Durable Object. So every value is right
 * however many isolates did the work.
 */
import type { Services } from '../services/services.ts';
import { REPLICATION_JOB } from '../jobs/replication.ts';
import { backendModes } from '../store/backend-states.ts';
import { cleanupOverview } from '../store/cleanup.ts';
import { readLease } from '../store/leases.ts';
import { countOverReplicated, countUnderReplicated } from '../store/replication.ts';
import { activeUploadsByBackend } from '../store/multipart.ts';
import { backendReport, bytesAvailable, usageForPeriod } from '../store/quotas.ts';
import type { MetricFamily } from '../observe/metrics.ts';
import { AUDIT_COUNTER } from '../observe/audit.ts';
import { notificationFamilies } from '../notify/counters.ts';
import { leasedJobMetrics, readJobLeases } from './job-reports.ts';
import { usagePeriod } from '../backends/usage.ts';
import { countsTowardFactor } from '../backends/backend-state.ts';

export async function fleetMetrics(services: Services): Promise<MetricFamily[]> {
  const { config, backendState } = services;
  const db = services.db();
  const period = usagePeriod(services.now());
  const names = config.backends.map((b) => b.name);
  const factor = config.replication.factor;
  // Everything this scrape reads, in one parallel round: Postgres, and each backend's Durable Object.
  const [requestFamilies, report, usage, uploads, states, statuses, degraded, fleet, cleanup, lease, modes, leasedJobs] = await Promise.all([
    services.metrics.read(),
    backendReport(db),
    usageForPeriod(db, period),
    activeUploadsByBackend(db),
    Promise.all(names.map((name) => backendState(name).snapshot())),
    Promise.all(names.map((name) => backendState(name).status().catch(() => undefined))),
    Promise.all(names.map((name) => backendState(name).degradedReads().catch(() => 0))),
    services.counters.read(),
    cleanupOverview(db, new Date(services.now()), 0),
    readLease(db, REPLICATION_JOB),
    backendModes(db),
    readJobLeases(db),
  ]);
  const breakers = statuses.map((s) => s?.breaker);
  // Live from the Durable Objects (Postgres's backend_usage lags by up to usage_flush.interval).
  const live = (name: string) => statuses[names.indexOf(name)]?.usage;
  // Fleet counters (and a job's counters) are named "<metric>:<label value>".
  const labelled = (prefix: string, label: string, from: Record<string, number> = fleet) =>
    Object.entries(from)
      .filter(([name]) => name.startsWith(`${prefix}:`))
      .map(([name, value]) => ({ labels: { [label]: name.slice(prefix.length + 1) }, value }));
  // Two labels: "<metric>:<first>/<second>".
  const labelledTwice = (prefix: string, first: string, second: string, from: Record<string, number> = fleet) =>
    labelled(prefix, first, from).map(({ labels, value }) => {
      const [a = '', b = ''] = (labels[first] ?? '').split('/');
      return { labels: { [first]: a, [second]: b }, value };
    });
  const rebalanceCounters = leasedJobs.rebalance?.counters ?? {};
  const counted = names.filter((n) => countsTowardFactor(modes.get(n) ?? 'active'));
  const [underPending, overPending] = await Promise.all([
    factor > 1 ? countUnderReplicated(db, factor, counted, 10_000) : Promise.resolve(0),
    countOverReplicated(db, factor, 10_000),
  ]);
  const counter = (key: string) => [{ value: lease?.counters[key] ?? 0 }];
  const rows = report.filter((r) => names.includes(r.backendName));
  const per = (value: (name: string) => number) => names.map((backend) => ({ labels: { backend }, value: value(backend) }));
  const row = (name: string) => rows.find((r) => r.backendName === name);
  const used = (name: string) => usage.find((u) => u.backendName === name);
  const thisMonth = (name: string) => {
    const fromObject = live(name);
    return fromObject?.period === period ? fromObject : used(name);
  };
  const state = (name: string) => states[names.indexOf(name)];
  return [
    ...requestFamilies,
    { name: 's3o_quota_bytes_used', help: 'Bytes of live copies on the backend', type: 'gauge', samples: per((n) => row(n)?.bytesUsed ?? 0) },
    { name: 's3o_quota_bytes_limit', help: 'The backend quota (0 = unlimited)', type: 'gauge', samples: per((n) => row(n)?.bytesLimit ?? 0) },
    {
      name: 's3o_quota_bytes_available',
      help: 'Bytes the backend can still take (-1 = unlimited)',
      type: 'gauge',
      samples: per((n) => bytesAvailable(row(n))),
    },
    { name: 's3o_quota_orphan_bytes', help: 'Bytes of copies waiting in the cleanup queue', type: 'gauge', samples: per((n) => row(n)?.orphanBytes ?? 0) },
    { name: 's3o_objects_count', help: 'Copies recorded on the backend', type: 'gauge', samples: per((n) => row(n)?.objects ?? 0) },
    { name: 's3o_active_multipart_uploads', help: 'Multipart uploads in progress on the backend', type: 'gauge', samples: per((n) => uploads.get(n) ?? 0) },
    { name: 's3o_usage_api_requests', help: `API requests counted this month (${period})`, type: 'gauge', samples: per((n) => thisMonth(n)?.apiRequests ?? 0) },
    { name: 's3o_usage_egress_bytes', help: `Egress bytes counted this month (${period})`, type: 'gauge', samples: per((n) => thisMonth(n)?.egressBytes ?? 0) },
    { name: 's3o_usage_ingress_bytes', help: `Ingress bytes counted this month (${period})`, type: 'gauge', samples: per((n) => thisMonth(n)?.ingressBytes ?? 0) },
    { name: 's3o_replication_pending', help: 'Objects with fewer copies than the replication factor (counted up to 10000)', type: 'gauge', samples: [{ value: underPending }] },
    { name: 's3o_replication_copies_created_total', help: 'Replica copies created', type: 'counter', samples: counter('copies_created') },
    { name: 's3o_replication_errors_total', help: 'Replica copies that failed', type: 'counter', samples: counter('errors') },
    { name: 's3o_replication_runs_total', help: 'Replication runs', type: 'counter', samples: counter('runs') },
    { name: 's3o_over_replication_pending', help: 'Objects with more copies than the replication factor (counted up to 10000)', type: 'gauge', samples: [{ value: overPending }] },
    { name: 's3o_over_replication_removed_total', help: 'Excess copies removed by the replicator', type: 'counter', samples: counter('over_replication_removed') },
    { name: 's3o_cleanup_queue_depth', help: 'Failed deletes waiting for a retry (including stuck ones)', type: 'gauge', samples: [{ value: cleanup.depth }] },
    { name: 's3o_cleanup_queue_stuck', help: 'Cleanup items that gave up after 10 attempts', type: 'gauge', samples: [{ value: cleanup.stuck }] },
    {
      name: 's3o_circuit_breaker_state',
      help: 'The backend circuit breaker: 0 closed, 1 open, 2 half-open',
      type: 'gauge',
      samples: per((n) => ({ closed: 0, open: 1, 'half-open': 2 })[breakers[names.indexOf(n)]?.state ?? 'closed']),
    },
    {
      name: 's3o_degraded_reads_total',
      help: 'Reads served from a cached record while the metadata store was unreachable',
      type: 'counter',
      samples: [{ value: degraded.reduce((a, b) => a + b, 0) }],
    },
    { name: 's3o_rate_limit_rejections_total', help: 'Requests refused by the per-client-IP rate limit', type: 'counter', samples: [{ value: fleet.rate_limit_rejections ?? 0 }] },
    {
      name: 's3o_usage_limit_rejections_total',
      help: 'Client requests refused because backends were over their monthly usage limits',
      type: 'counter',
      samples: labelled('usage_limit_rejections', 'operation'),
    },
    { name: 's3o_cleanup_queue_processed_total', help: 'Cleanup queue attempts', type: 'counter', samples: labelled('cleanup_processed', 'status') },
    { name: 's3o_drain_active', help: '1 while a drain is in progress', type: 'gauge', samples: per((n) => (state(n)?.mode === 'draining' ? 1 : 0)) },
    {
      name: 's3o_drain_objects_moved_total',
      help: 'Objects moved off the backend by its current or last drain',
      type: 'counter',
      samples: per((n) => state(n)?.drain?.objectsMoved ?? 0),
    },
    {
      name: 's3o_drain_bytes_moved_total',
      help: 'Bytes copied off the backend by its current or last drain',
      type: 'counter',
      samples: per((n) => state(n)?.drain?.bytesMoved ?? 0),
    },
    {
      name: 's3o_rebalance_objects_moved_total',
      help: 'Copies a rebalance pass moved (success), could not move (failed) or left because they changed meanwhile (skipped)',
      type: 'counter',
      samples: labelledTwice('moved', 'strategy', 'status', rebalanceCounters),
    },
    { name: 's3o_rebalance_bytes_moved_total', help: 'Stored bytes rebalance passes moved', type: 'counter', samples: labelled('bytes', 'strategy', rebalanceCounters) },
    {
      name: 's3o_rebalance_runs_total',
      help: 'Rebalance passes that moved copies: success (no failure), partial (some failed), error (the pass failed)',
      type: 'counter',
      samples: labelledTwice('runs', 'strategy', 'status', rebalanceCounters),
    },
    {
      name: 's3o_rebalance_skipped_total',
      help: 'Rebalance passes that had nothing to do: threshold (balanced enough), no-moves (no copy can move), too-few-backends',
      type: 'counter',
      samples: labelled('skipped', 'reason', rebalanceCounters),
    },
    { name: 's3o_rebalance_pending', help: 'Moves the last rebalance pass planned but did not make', type: 'gauge', samples: [{ value: rebalanceCounters.pending ?? 0 }] },
    {
      name: 's3o_encrypt_existing_objects_total',
      help: 'Copies encrypt-existing sealed (success) or could not (error)',
      type: 'counter',
      samples: labelled('encrypt_existing_objects', 'status'),
    },
    {
      name: 's3o_decrypt_existing_objects_total',
      help: 'Copies decrypt-existing stored as plaintext (success) or could not (error)',
      type: 'counter',
      samples: labelled('decrypt_existing_objects', 'status'),
    },
    {
      name: 's3o_key_rotation_objects_total',
      help: 'Data keys rotate-encryption-key re-wrapped (success) or could not (error)',
      type: 'counter',
      samples: labelled('key_rotation_objects', 'status'),
    },
    {
      name: 's3o_encryption_operations_total',
      help: 'Copies sealed on write (op=encrypt) and opened on read (op=decrypt)',
      type: 'counter',
      samples: labelled('encryption_operations', 'op'),
    },
    {
      name: 's3o_encryption_errors_total',
      help: 'Encryption failures by operation and type (unknown-key-id, unwrap-failed, provider-unavailable, tampered, truncated, bad-header, trailing-bytes)',
      type: 'counter',
      samples: labelledTwice('encryption_errors', 'op', 'error_type'),
    },
    {
      name: 's3o_encryption_unknown_key_id_total',
      help: 'Reads or writes that met a data key wrapped by a key id not configured',
      type: 'counter',
      samples: [{ value: fleet.encryption_unknown_key_id ?? 0 }],
    },
    ...leasedJobMetrics(leasedJobs),
    // Integrity: copies checked against their content digest, and those that did not match.
    {
      name: 's3o_integrity_checks_total',
      help: 'Copies checked against their content digest, by operation (read, scrub, backfill)',
      type: 'counter',
      samples: labelled('integrity_checks', 'operation'),
    },
    {
      name: 's3o_integrity_errors_total',
      help: 'Copies that did not match their content digest (or their record, for backfill), by operation (read, scrub, backfill)',
      type: 'counter',
      samples: labelled('integrity_errors', 'operation'),
    },
    { name: 's3o_audit_events_total', help: 'Audit records written: admin actions and S3 data mutations, by event', type: 'counter', samples: labelled(AUDIT_COUNTER, 'event') },
    ...notificationFamilies(fleet),
  ];
}
