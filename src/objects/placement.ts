/** Which backend a new object goes to: `pack` fills backends in config order, `spread` picks the least utilized. */
import type { RoutingStrategy } from '../config/types.ts';
import type { BackendSpace } from '../store/quotas.ts';

export function freeBytes(space: BackendSpace): number {
  if (space.bytesLimit === 0) return Number.POSITIVE_INFINITY;
  return space.bytesLimit - space.bytesUsed - space.orphanBytes - space.inflightBytes;
}

function utilization(space: BackendSpace): number {
  if (space.bytesLimit === 0) return 0;
  return (space.bytesUsed + space.orphanBytes + space.inflightBytes) / space.bytesLimit;
}

/**
 * `candidates` must be in config order; only active backends are eligible. Returns the chosen backend's name, or undefined when the object fits
 * nowhere. Ties under `spread` (e.g. several unlimited backends) go to the one holding fewer bytes, then to
 * config order, so unlimited backends still share the load.
 */
export function choosePlacement(strategy: RoutingStrategy, candidates: readonly BackendSpace[], size: number): string | undefined {
  const fitting = candidates.filter((c) => c.mode === 'active' && freeBytes(c) >= size);
  if (strategy === 'pack') return fitting[0]?.backendName;
  let best: BackendSpace | undefined;
  for (const c of fitting) {
    if (!best || utilization(c) < utilization(best) || (utilization(c) === utilization(best) && c.bytesUsed < best.bytesUsed)) {
      best = c;
    }
  }
  return best?.backendName;
}
