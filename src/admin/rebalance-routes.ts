/** Rebalance over the admin API: the plan a pass would carry out now (GET), and one pass now (POST). */
import { type RebalanceRun, planPass, runRebalance } from '../jobs/rebalance.ts';
import type { RebalancePlan } from '../jobs/rebalance-plan.ts';
import type { AdminContext } from './api.ts';
import { json } from './http.ts';

/** Moves listed in an answer; the counts cover all of them. */
const LISTED_MOVES = 100;

export async function rebalanceRoute(request: Request, context: AdminContext): Promise<Response> {
  const { services } = context;
  const param = new URL(request.url).searchParams.get('limit');
  const limit = param === null ? undefined : Number(param);
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000)) {
    return json(400, { error: 'limit must be a whole number from 1 to 10000 (copies moved in this pass)' });
  }
  if (request.method === 'GET') return json(200, { status: 'planned', plan: planJson(await planPass(services, limit)) });
  return json(200, runJson(await runRebalance(services, { trigger: 'admin', ...(limit === undefined ? {} : { limit }) })));
}

function runJson(run: RebalanceRun): Record<string, unknown> {
  if (run.status === 'skipped') return { status: 'skipped', reason: run.reason, ...(run.plan ? { plan: planJson(run.plan) } : {}) };
  return {
    status: run.status,
    moved: run.moved,
    failed: run.failed,
    skipped: run.skipped,
    bytes_moved: run.bytes,
    // Planned but not started within this call's time: ask again (or let the cron continue).
    left: run.left,
    errors: run.errors.slice(0, 10),
    plan: planJson(run.plan),
  };
}

function planJson(plan: RebalancePlan): Record<string, unknown> {
  const flow = (name: string, side: 'from' | 'to') => {
    const moves = plan.moves.filter((m) => m[side] === name);
    return { copies: moves.length, bytes: moves.reduce((sum, m) => sum + m.copy.storedSize, 0) };
  };
  return {
    strategy: plan.strategy,
    threshold: plan.threshold,
    imbalance: plan.imbalance,
    imbalance_after: plan.imbalanceAfter,
    ...(plan.skip ? { skip: plan.skip } : {}),
    moves: plan.moves.length,
    bytes: plan.bytes,
    // The batch size stopped the plan: later passes move more.
    truncated: plan.truncated,
    backends: plan.before.map((b, i) => ({
      name: b.name,
      bytes_used: b.used,
      bytes_limit: b.limit,
      utilization: b.utilization,
      utilization_after: plan.after[i]?.utilization ?? b.utilization,
      moving_out: flow(b.name, 'from'),
      moving_in: flow(b.name, 'to'),
    })),
    listed_moves: plan.moves.slice(0, LISTED_MOVES).map((m) => ({ bucket: m.copy.bucket, key: m.copy.key, from: m.from, to: m.to, bytes: m.copy.storedSize })),
  };
}
