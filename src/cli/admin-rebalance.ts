/**
 * `s3-orchestrator admin rebalance`: the plan a pass would carry out now (the default, or --dry-run), or with
 * --execute one pass now. The Worker answers each call within the CLI's timeout, so a pass larger than one call's
 * time is asked for again with what is left, behind a progress bar.
 */
import { call } from './api-call.ts';
import { bytes, endProgress, fail, printJson, printProgress, printTable } from './output.ts';
import type { Target } from './target.ts';

interface PlanBackend {
  name: string;
  bytes_used: number;
  bytes_limit: number;
  utilization: number;
  utilization_after: number;
  moving_out: { copies: number; bytes: number };
  moving_in: { copies: number; bytes: number };
}

interface Plan {
  strategy: string;
  threshold: number;
  imbalance: number;
  imbalance_after: number;
  skip?: string;
  moves: number;
  bytes: number;
  truncated: boolean;
  backends: PlanBackend[];
}

interface PassAnswer {
  status: 'ok' | 'partial' | 'skipped';
  reason?: string;
  moved?: number;
  failed?: number;
  skipped?: number;
  bytes_moved?: number;
  left?: number;
  errors?: string[];
  plan?: Plan;
}

export async function rebalance(target: Target, options: { dryRun: boolean; execute: boolean; json: boolean }): Promise<number> {
  if (options.dryRun && options.execute) return fail('choose one: --dry-run shows the plan, --execute carries it out', 2);
  if (!options.execute) {
    const body = await call(target, 'GET', '/admin/api/rebalance');
    if (!body.ok) return fail(body.error);
    const { plan } = body.value as { plan: Plan };
    if (options.json) printJson(plan);
    else showPlan(plan, 'would move');
    return 0;
  }
  return execute(target, options.json);
}

async function execute(target: Target, json: boolean): Promise<number> {
  const totals = { moved: 0, failed: 0, skipped: 0, bytes_moved: 0 };
  const errors = new Set<string>();
  let first: Plan | undefined;
  let left: number | undefined;
  for (;;) {
    const body = await call(target, 'POST', `/admin/api/rebalance${left ? `?limit=${left}` : ''}`);
    if (!body.ok) return fail(body.error);
    const answer = body.value as PassAnswer;
    if (answer.status === 'skipped') {
      if (first) break;
      if (json) printJson(answer);
      else {
        console.log(`rebalance skipped: ${answer.reason}`);
        if (answer.plan) showPlan(answer.plan, 'would move');
      }
      return 0;
    }
    first ??= answer.plan;
    totals.moved += answer.moved ?? 0;
    totals.failed += answer.failed ?? 0;
    totals.skipped += answer.skipped ?? 0;
    totals.bytes_moved += answer.bytes_moved ?? 0;
    for (const e of answer.errors ?? []) errors.add(e);
    const planned = first?.moves ?? 0;
    const done = totals.moved + totals.failed + totals.skipped;
    if (!json) printProgress(planned === 0 ? 1 : done / planned, `${totals.moved} of ${planned} copies moved (${bytes(totals.bytes_moved)})${totals.failed > 0 ? `, ${totals.failed} failed` : ''}`);
    // A call that made no progress would only repeat itself; the cron (or another call) takes it up.
    const progressed = (answer.moved ?? 0) + (answer.failed ?? 0) + (answer.skipped ?? 0) > 0;
    left = answer.left ?? 0;
    if (left === 0 || !progressed) break;
  }
  if (!json) endProgress();
  const now = await call(target, 'GET', '/admin/api/rebalance');
  const after = now.ok ? (now.value as { plan: Plan }).plan : undefined;
  if (json) {
    printJson({ status: totals.failed > 0 ? 'partial' : 'ok', ...totals, errors: [...errors], before: first, now: after });
  } else {
    console.log(`moved ${totals.moved} copies (${bytes(totals.bytes_moved)}), ${totals.failed} failed, ${totals.skipped} skipped (changed meanwhile)`);
    for (const e of errors) console.log(`failed: ${e}`);
    if (first && after) showUtilization(first.backends, after.backends, after);
  }
  return totals.failed > 0 ? 1 : 0;
}

function showPlan(plan: Plan, verb: string): void {
  const status = plan.skip === 'threshold' ? ' (under the threshold: a pass would skip)' : plan.skip === 'no-moves' ? ' (no copy can move)' : '';
  console.log(`strategy ${plan.strategy}: imbalance ${pct(plan.imbalance)}, threshold ${pct(plan.threshold)}${status}`);
  if (plan.moves > 0) {
    console.log(`${verb} ${plan.moves} copies (${bytes(plan.bytes)}); imbalance after: ${pct(plan.imbalance_after)}${plan.truncated ? ' (batch_size reached: later passes move more)' : ''}`);
  }
  printTable(
    ['BACKEND', 'USED', 'LIMIT', 'NOW', 'AFTER', 'OUT', 'IN'],
    plan.backends.map((b) => [
      b.name,
      bytes(b.bytes_used),
      bytes(b.bytes_limit),
      pct(b.utilization),
      pct(b.utilization_after),
      b.moving_out.copies > 0 ? `${b.moving_out.copies} (${bytes(b.moving_out.bytes)})` : '-',
      b.moving_in.copies > 0 ? `${b.moving_in.copies} (${bytes(b.moving_in.bytes)})` : '-',
    ]),
  );
}

function showUtilization(before: PlanBackend[], after: PlanBackend[], now: Plan): void {
  console.log(`imbalance now ${pct(now.imbalance)} (threshold ${pct(now.threshold)})`);
  printTable(
    ['BACKEND', 'BEFORE', 'NOW', 'USED NOW', 'LIMIT'],
    after.map((b) => [b.name, pct(before.find((x) => x.name === b.name)?.utilization ?? 0), pct(b.utilization), bytes(b.bytes_used), bytes(b.bytes_limit)]),
  );
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}
