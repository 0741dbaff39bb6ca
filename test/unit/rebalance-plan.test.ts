/** The rebalance planner on numbers alone: imbalance per strategy, the moves it picks and where it stops. */
import { describe, expect, it } from 'vitest';
import { type RebalanceBackend, imbalanceOf, planRebalance } from '../../src/jobs/rebalance-plan.ts';
import type { RebalanceCandidate } from '../../src/store/rebalance.ts';

const backend = (name: string, used: number, limit = 1000, more: Partial<RebalanceBackend> = {}): RebalanceBackend => ({ name, used, limit, free: limit - used, accepts: true, gives: true, ...more });

function copies(backendName: string, sizes: number[], otherBackends: string[] = []): RebalanceCandidate[] {
  return sizes.map((storedSize, i) => ({
    bucket: 'b',
    key: `${backendName}-${i}`,
    backendName,
    physicalKey: `p/${backendName}-${i}`,
    storedSize,
    encryption: null,
    createdAt: new Date(0),
    otherBackends,
  }));
}

describe('rebalance plan', () => {
  it('measures spread as highest minus lowest utilization, pack as the largest gap to the packed layout', () => {
    expect(imbalanceOf('spread', [backend('a', 900), backend('b', 100)])).toBeCloseTo(0.8);
    // 1000 bytes in use pack into a (1000): a is 0.5 short, b 0.5 over.
    expect(imbalanceOf('pack', [backend('a', 500), backend('b', 500)])).toBeCloseTo(0.5);
    expect(imbalanceOf('pack', [backend('a', 1000), backend('b', 200)])).toBe(0);
  });

  it('spread moves smallest copies from the fullest to the emptiest, never past each other, and stops within half the threshold', () => {
    const plan = planRebalance({
      strategy: 'spread',
      threshold: 0.1,
      limit: 100,
      backends: [backend('a', 900), backend('b', 100)],
      candidates: new Map([['a', copies('a', [0, 50, 50, 100, 100, 100, 200, 300])]]),
    });
    expect(plan.moves.every((m) => m.from === 'a' && m.to === 'b')).toBe(true);
    // The empty copy is never moved; sizes ascend.
    expect(plan.moves.map((m) => m.copy.storedSize)).toEqual([50, 50, 100, 100, 100]);
    expect(plan.imbalanceAfter).toBeLessThanOrEqual(0.05);
    expect(plan.truncated).toBe(false);
  });

  it('skips under the threshold, with fewer than two usable backends, and says when nothing can move', () => {
    const base = { strategy: 'spread' as const, threshold: 0.2, limit: 10 };
    expect(planRebalance({ ...base, backends: [backend('a', 550), backend('b', 450)], candidates: new Map() }).skip).toBe('threshold');
    expect(planRebalance({ ...base, backends: [backend('a', 900), backend('b', 0, 1000, { accepts: false, gives: false })], candidates: new Map() }).skip).toBe('too-few-backends');
    // Unlimited backends (limit 0) do not take part.
    expect(planRebalance({ ...base, backends: [backend('a', 900), backend('u', 0, 0)], candidates: new Map() }).skip).toBe('too-few-backends');
    // Every copy already has its other copy on b.
    expect(planRebalance({ ...base, backends: [backend('a', 900), backend('b', 0)], candidates: new Map([['a', copies('a', [100, 100], ['b'])]]) }).skip).toBe('no-moves');
  });

  it('pack fills the first backend from the last one, within its free space, and marks a plan cut by the batch size', () => {
    const plan = planRebalance({
      strategy: 'pack',
      threshold: 0.1,
      limit: 3,
      backends: [backend('a', 600), backend('b', 300), backend('c', 300)],
      candidates: new Map([
        ['b', copies('b', [100, 100, 100])],
        ['c', copies('c', [100, 100, 100])],
      ]),
    });
    expect(plan.moves.map((m) => `${m.from}->${m.to}`)).toEqual(['c->a', 'c->a', 'c->a']);
    expect(plan.truncated).toBe(true);
    const all = planRebalance({
      strategy: 'pack',
      threshold: 0.1,
      limit: 100,
      backends: [backend('a', 600), backend('b', 300), backend('c', 300)],
      candidates: new Map([
        ['b', copies('b', [100, 100, 100])],
        ['c', copies('c', [100, 100, 100])],
      ]),
    });
    // a takes 400 (three from c, one from b); then b takes c's nothing (c is empty).
    expect(all.after.map((b) => b.used)).toEqual([1000, 200, 0]);
  });
});
