/**
 * The fleet as `admin status` and the dashboard show it: per backend its quota (used, limit, orphaned bytes),
 * copies, open multipart uploads, this month's usage against its limits and its state; and the leased jobs.
 */
import { usagePeriod } from '../backends/usage.ts';
import { backendModes } from '../store/backend-states.ts';
import { activeUploadsByBackend } from '../store/multipart.ts';
import { backendReport, bytesAvailable, usageForPeriod } from '../store/quotas.ts';
import type { AdminContext } from './api.ts';
import { jobsStatus, readJobLeases } from './job-reports.ts';

export type FleetStatus = Awaited<ReturnType<typeof fleetStatus>>;

export async function fleetStatus(context: AdminContext) {
  const db = context.services.db();
  const period = usagePeriod(context.services.now());
  const [rows, usage, modes, uploads, , leasedJobs] = await Promise.all([
    backendReport(db),
    usageForPeriod(db, period),
    backendModes(db),
    activeUploadsByBackend(db),
    context.services.health.refresh(context.active.config.backends.map((b) => b.name)),
    readJobLeases(db),
  ]);
  const configured = new Map(context.active.config.backends.map((b) => [b.name, b]));
  const usageOf = new Map(usage.map((u) => [u.backendName, u]));
  const listed = new Set(rows.map((r) => r.backendName));
  // A drained or removed backend has no quota row left, but is still reported while it is configured.
  const retired = [...configured.keys()].filter((name) => !listed.has(name)).map((name) => ({ backendName: name, bytesUsed: 0, bytesLimit: null, orphanBytes: 0, objects: 0 }));
  // Copies recorded on a backend the configuration no longer has cannot be read (it was removed without a drain).
  const warnings = rows
    .filter((r) => !configured.has(r.backendName) && r.objects > 0)
    .map((r) => `${r.objects} copies are recorded on ${r.backendName}, which is not in the configuration: objects with no other copy answer 503 until it is configured again (then drain it before removing it)`);
  return {
    period,
    ...(warnings.length > 0 ? { warnings } : {}),
    backends: [...rows, ...retired].map((r) => {
      const backend = configured.get(r.backendName);
      const breaker = context.services.health.state(r.backendName);
      // Live from the backend's Durable Object when it has this month's; else what Postgres has (flushed).
      const live = context.services.health.usage(r.backendName);
      const used = live?.period === period ? live : usageOf.get(r.backendName);
      return {
        name: r.backendName,
        bytes_used: r.bytesUsed,
        // A backend with no quota row (drained, removed) has no limit (null); see bytesAvailable for the rest.
        bytes_limit: r.bytesLimit,
        bytes_available: bytesAvailable(r),
        orphan_bytes: r.orphanBytes,
        objects: r.objects,
        multipart_uploads: uploads.get(r.backendName) ?? 0,
        usage: {
          api_requests: used?.apiRequests ?? 0,
          api_request_limit: backend?.apiRequestLimit ?? 0,
          egress_bytes: used?.egressBytes ?? 0,
          egress_byte_limit: backend?.egressByteLimit ?? 0,
          ingress_bytes: used?.ingressBytes ?? 0,
          ingress_byte_limit: backend?.ingressByteLimit ?? 0,
        },
        state: backend ? stateOf(modes.get(r.backendName) ?? 'active', breaker.state) : 'not-configured',
        breaker: { state: breaker.state, consecutive_failures: breaker.consecutiveFailures },
        // Why its breaker is open, or counting failures.
        ...(backend && breaker.lastError && (breaker.state !== 'closed' || breaker.consecutiveFailures > 0) ? { last_error: breaker.lastError } : {}),
      };
    }),
    jobs: jobsStatus(leasedJobs),
  };
}

/** A backend's placement mode, or its breaker's state when that is what keeps it out of use. */
function stateOf(mode: string, breaker: 'closed' | 'open' | 'half-open'): string {
  if (mode !== 'active' || breaker === 'closed') return mode;
  return breaker === 'open' ? 'circuit-open' : 'circuit-half-open';
}
