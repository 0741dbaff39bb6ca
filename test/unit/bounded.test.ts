import { describe, expect, it } from 'vitest';
import { mapBounded } from '../../src/util/bounded.ts';

describe('mapBounded', () => {
  it('keeps at most `limit` in flight and returns results in order', async () => {
    let inFlight = 0;
    let most = 0;
    const results = await mapBounded([5, 1, 4, 2, 3, 0], 2, async (n, i) => {
      inFlight++;
      most = Math.max(most, inFlight);
      for (let k = 0; k < n; k++) await Promise.resolve();
      inFlight--;
      return `${i}:${n}`;
    });
    expect(results).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3', '5:0']);
    expect(most).toBe(2);
  });

  it('handles no items and a limit of zero (one at a time)', async () => {
    expect(await mapBounded([], 4, async () => 1)).toEqual([]);
    expect(await mapBounded([1, 2], 0, async (n) => n * 2)).toEqual([2, 4]);
  });

  it('rejects when a piece of work fails', async () => {
    await expect(mapBounded([1, 2, 3], 2, async (n) => {
      if (n === 2) throw new Error('two');
      return n;
    })).rejects.toThrow('two');
  });
});
