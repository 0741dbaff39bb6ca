/**
 * What a rebalance pass would move, worked out from numbers alone (no I/O), so the plan an operator sees with
 * `admin rebalance --dry-run` is the one a pass carries out. Only backends with a quota that may give or take
 * copies now take part (utilization is used / limit; draining, removed and failing backends are left out).
 * Copies move smallest first; a move never puts a second copy of an object on a backend.
 *
 * - `pack` fills backends in configuration order: copies move from the last backend that holds any onto the
 *   first one with room.
 * - `spread` evens utilization: copies move from the most utilized backend to the least utilized one, as long as
 *   that does not swap their order, until the spread is within half the threshold (so client writes do not bring
 *   the next pass back at once).
 */
import type { RebalanceConfig } from '../config/types.ts';
import type { RebalanceCandidate } from '../store/rebalance.ts';

export type RebalanceStrategy = RebalanceConfig['strategy'];

export interface RebalanceBackend {
  name: string;
  used: number;
  limit: number;
  /** Bytes it can still take (limit minus used, orphaned and in-flight bytes). */
  free: number;
  /** May take copies now: active, circuit breaker closed, within its monthly usage limits. */
  accepts: boolean;
  /** Copies may leave it now: active and its circuit breaker closed (its copies can be read). */
  gives: boolean;
}

export interface PlannedMove {
  copy: RebalanceCandidate;
  from: string;
  to: string;
}

export interface BackendUtilization {
  name: string;
  used: number;
  limit: number;
  utilization: number;
}

export type SkipReason = 'threshold' | 'too-few-backends' | 'no-moves';

export interface RebalancePlan {
  strategy: RebalanceStrategy;
  threshold: number;
  /** How far the fleet is from the strategy's layout (0 = there); a pass runs only from `threshold` up. */
  imbalance: number;
  /** Set when the pass has nothing to do, and why. */
  skip?: SkipReason;
  moves: PlannedMove[];
  bytes: number;
  before: BackendUtilization[];
  after: BackendUtilization[];
  imbalanceAfter: number;
  /** The plan stopped at `limit` moves with more to move. */
  truncated: boolean;
}

export interface PlanInput {
  strategy: RebalanceStrategy;
  threshold: number;
  limit: number;
  /** In configuration order. */
  backends: readonly RebalanceBackend[];
  /** Each backend's copies, smallest first. */
  candidates: ReadonlyMap<string, readonly RebalanceCandidate[]>;
}

/** The backends that take part: the ones with a quota that may give or take copies now. */
export function participants(backends: readonly RebalanceBackend[]): RebalanceBackend[] {
  return backends.filter((b) => b.limit > 0 && (b.gives || b.accepts));
}

export function planRebalance(input: PlanInput): RebalancePlan {
  const backends = participants(input.backends);
  const state = new Map(backends.map((b) => [b.name, { ...b }]));
  const before = utilizations(backends);
  const imbalance = imbalanceOf(input.strategy, backends);
  const base = { strategy: input.strategy, threshold: input.threshold, imbalance, before };
  const unchanged = (skip: SkipReason): RebalancePlan => ({ ...base, skip, moves: [], bytes: 0, after: before, imbalanceAfter: imbalance, truncated: false });
  if (backends.length < 2) return unchanged('too-few-backends');
  if (imbalance < input.threshold) return unchanged('threshold');

  const moves: PlannedMove[] = [];
  const planned = new Set<RebalanceCandidate>();
  // Where moves put each object's copies, so two copies of one object never head for the same backend.
  const arriving = new Set<string>();
  const slot = (copy: RebalanceCandidate, backend: string) => `${copy.bucket}\n${copy.key}\n${backend}`;
  const move = (copy: RebalanceCandidate, from: string, to: string) => {
    arriving.add(slot(copy, to));
    const source = state.get(from)!;
    const target = state.get(to)!;
    source.used -= copy.storedSize;
    source.free += copy.storedSize;
    target.used += copy.storedSize;
    target.free -= copy.storedSize;
    planned.add(copy);
    moves.push({ copy, from, to });
  };
  // The smallest copy on `from` not moved yet that `to` may take (sizes ascend, so the first too big ends the search).
  const nextFor = (from: string, to: string, fits: (size: number) => boolean) => {
    for (const copy of input.candidates.get(from) ?? []) {
      // An empty copy frees nothing by moving.
      if (planned.has(copy) || copy.storedSize === 0 || copy.otherBackends.includes(to) || arriving.has(slot(copy, to))) continue;
      return fits(copy.storedSize) ? copy : undefined;
    }
    return undefined;
  };

  let truncated = false;
  if (input.strategy === 'pack') {
    const order = [...state.values()];
    pack: for (const [i, target] of order.entries()) {
      if (!target.accepts) continue;
      for (const source of order.slice(i + 1).reverse()) {
        if (!source.gives) continue;
        for (;;) {
          const copy = nextFor(source.name, target.name, (size) => size <= target.free);
          if (!copy) break;
          if (moves.length === input.limit) {
            truncated = true;
            break pack;
          }
          move(copy, source.name, target.name);
        }
      }
    }
  } else {
    const goal = input.threshold / 2;
    const util = (b: RebalanceBackend) => b.used / b.limit;
    for (;;) {
      const all = [...state.values()];
      if (spreadOf(all) <= goal) break;
      const sources = all.filter((b) => b.gives).sort((a, b) => util(b) - util(a));
      const targets = all.filter((b) => b.accepts).sort((a, b) => util(a) - util(b));
      let chosen: { copy: RebalanceCandidate; from: string; to: string } | undefined;
      search: for (const source of sources) {
        for (const target of targets) {
          if (util(target) >= util(source)) break;
          // The move may narrow the gap between the two, never turn it around.
          const keepsOrder = (size: number) => size <= target.free && (target.used + size) / target.limit <= (source.used - size) / source.limit;
          const copy = nextFor(source.name, target.name, keepsOrder);
          if (copy) {
            chosen = { copy, from: source.name, to: target.name };
            break search;
          }
        }
      }
      if (!chosen) break;
      if (moves.length === input.limit) {
        truncated = true;
        break;
      }
      move(chosen.copy, chosen.from, chosen.to);
    }
  }
  const after = utilizations([...state.values()]);
  const bytes = moves.reduce((sum, m) => sum + m.copy.storedSize, 0);
  return {
    ...base,
    ...(moves.length === 0 ? { skip: 'no-moves' as const } : {}),
    moves,
    bytes,
    after,
    imbalanceAfter: imbalanceOf(input.strategy, [...state.values()]),
    truncated,
  };
}

function utilizations(backends: readonly { name: string; used: number; limit: number }[]): BackendUtilization[] {
  return backends.map((b) => ({ name: b.name, used: b.used, limit: b.limit, utilization: b.used / b.limit }));
}

function spreadOf(backends: readonly { used: number; limit: number }[]): number {
  const utils = backends.map((b) => b.used / b.limit);
  return utils.length === 0 ? 0 : Math.max(...utils) - Math.min(...utils);
}

/**
 * `spread`: highest minus lowest utilization. `pack`: the largest gap between a backend's utilization and the
 * one it would have if the bytes in use filled the backends in configuration order.
 */
export function imbalanceOf(strategy: RebalanceStrategy, backends: readonly { used: number; limit: number }[]): number {
  if (strategy === 'spread') return spreadOf(backends);
  let left = backends.reduce((sum, b) => sum + b.used, 0);
  let worst = 0;
  for (const b of backends) {
    const packed = Math.min(b.limit, left);
    left -= packed;
    worst = Math.max(worst, Math.abs(b.used - packed) / b.limit);
  }
  return worst;
}
