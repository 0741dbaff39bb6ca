import { describe, expect, it } from 'vitest';
import { cleanupBackoffMs } from '../../src/store/cleanup.ts';

describe('cleanup retry backoff', () => {
  it('waits 1 min x 2^(attempts-1), at most 24 h', () => {
    expect(cleanupBackoffMs(1)).toBe(60_000);
    expect(cleanupBackoffMs(2)).toBe(120_000);
    expect(cleanupBackoffMs(5)).toBe(16 * 60_000);
    expect(cleanupBackoffMs(11)).toBe(1024 * 60_000);
    expect(cleanupBackoffMs(12)).toBe(24 * 60 * 60_000);
    expect(cleanupBackoffMs(40)).toBe(24 * 60 * 60_000);
  });
});
