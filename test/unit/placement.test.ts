import { describe, expect, it } from 'vitest';
import { resolveRange } from '../../src/objects/range.ts';
import { choosePlacement } from '../../src/objects/placement.ts';
import type { BackendMode } from '../../src/store/schema.ts';

const space = (backendName: string, bytesUsed: number, bytesLimit: number, orphanBytes = 0, inflightBytes = 0, mode: BackendMode = 'active') => ({
  backendName,
  mode,
  bytesUsed,
  bytesLimit,
  orphanBytes,
  inflightBytes,
});

describe('choosePlacement', () => {
  it('pack fills backends in config order, counting orphans and in-flight parts as used', () => {
    const backends = [space('a', 90, 100, 5, 3), space('b', 0, 100)];
    expect(choosePlacement('pack', backends, 2)).toBe('a');
    expect(choosePlacement('pack', backends, 3)).toBe('b');
  });
  it('spread picks the least utilized, and shares unlimited backends by bytes held', () => {
    expect(choosePlacement('spread', [space('a', 50, 100), space('b', 30, 100)], 10)).toBe('b');
    expect(choosePlacement('spread', [space('a', 500, 0), space('b', 100, 0)], 10)).toBe('b');
  });
  it('never picks a backend that is not active', () => {
    for (const mode of ['draining', 'drained', 'removed'] as const) {
      expect(choosePlacement('pack', [space('a', 0, 100, 0, 0, mode), space('b', 50, 100)], 10)).toBe('b');
      expect(choosePlacement('spread', [space('a', 0, 0, 0, 0, mode)], 10)).toBeUndefined();
    }
  });
  it('returns undefined when nothing fits', () => {
    expect(choosePlacement('pack', [space('a', 95, 100)], 10)).toBeUndefined();
    expect(choosePlacement('spread', [], 1)).toBeUndefined();
  });
});

describe('resolveRange', () => {
  it('handles the three single-range forms and clamps the end', () => {
    expect(resolveRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 });
    expect(resolveRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 });
    expect(resolveRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 });
    expect(resolveRange('bytes=50-500', 100)).toEqual({ start: 50, end: 99 });
  });
  it('ignores what S3 ignores and refuses what cannot be satisfied', () => {
    expect(resolveRange(null, 100)).toBeUndefined();
    expect(resolveRange('bytes=0-1,5-6', 100)).toBeUndefined();
    expect(resolveRange('items=0-1', 100)).toBeUndefined();
    expect(() => resolveRange('bytes=100-', 100)).toThrowError(/not satisfiable/);
    expect(() => resolveRange('bytes=-0', 100)).toThrowError(/not satisfiable/);
  });
});
