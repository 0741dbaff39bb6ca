/**
 * Which backend takes a new copy: `pack` fills backends in config order, `spread` picks the least utilized. Every
 * writer (put, multipart, drain, replication) asks placeCopy, so all of them skip the same backends.
 */
import { writeRefusal } from '../backends/usage.ts';
import type { RoutingStrategy } from '../config/types.ts';
import type { Services } from '../services/services.ts';
import { type BackendSpace, backendSpace } from '../store/quotas.ts';

/** Why no backend can take the copy: none has room, only failing ones (breaker open) do, or only ones over a
 *  monthly usage limit do. */
export type Placement = { ok: true; backend: string } | { ok: false; reason: 'no-room' | 'unavailable' | 'over-usage-limit' };

/**
 * A backend that may take a copy of `size` stored bytes now: configured and not in `exclude`, in placement
 * (not draining or retired), with room, its circuit breaker closed, and its monthly usage limits allowing the
 * write; chosen by `strategy` (the configuration's routing strategy unless given).
 */
export function placeCopy(services: Services, size: number, opts: PlacementOptions = {}): Promise<Placement> {
  return services.timing.time('placement', async () => {
    const placed = (await choose(services, [{ size }], opts))[0]!;
    // Remembered figures still count this isolate's recent copies (deleted ones too): a refusal goes by fresh ones.
    if (!placed.ok && opts.recentSpace) return (await choose(services, [{ size }], { ...opts, recentSpace: false }))[0]!;
    return placed;
  });
}

export interface PlacementOptions {
  exclude?: Iterable<string>;
  strategy?: RoutingStrategy;
  /**
   * Places by the backends' space this isolate read less than SPACE_CACHE_MS ago (a client's write): the commit
   * checks room and mode again, so a stale answer costs a relocation, never a wrong record.
   */
  recentSpace?: boolean;
}

/**
 * How long an isolate may place client writes by the backends' space it read last. Room and mode are checked
 * again at commit; room held by multipart parts in flight is not (placement alone keeps it), so an isolate that
 * records a part forgets its figures, and a write from another isolate may take that room for up to this long.
 */
export const SPACE_CACHE_MS = 1000;

/** The next placement reads the backends' space again (a commit found it stale). */
export function forgetSpace(services: Services): void {
  services.memory.space.read = undefined;
}

/**
 * Every configured backend's space: read now, or as read lately when `recent` allows. What is placed on the
 * remembered figures is added to them, so one isolate's burst spreads as if each copy had been read back.
 */
async function spaceOf(services: Services, recent: boolean): Promise<BackendSpace[]> {
  const names = services.config.backends.map((b) => b.name);
  const key = names.join('\n');
  const memory = services.memory.space;
  const read = memory.read;
  if (recent && read && read.names === key && services.now() - read.at < SPACE_CACHE_MS) return read.spaces;
  const spaces = await backendSpace(services.db(), names);
  memory.read = { names: key, spaces, at: services.now() };
  return spaces;
}

/**
 * placeCopy for many copies at once (a drain's batch), with one read of the backends' space: each choice counts
 * the copies placed before it, as if they were already written. `exclude` per copy adds to the options' own.
 */
export function placeCopies(services: Services, copies: readonly { size: number; exclude?: Iterable<string> }[], opts: PlacementOptions = {}): Promise<Placement[]> {
  return services.timing.time('placement', () => choose(services, copies, opts));
}

async function choose(services: Services, copies: readonly { size: number; exclude?: Iterable<string> }[], opts: PlacementOptions): Promise<Placement[]> {
  const excluded = new Set(opts.exclude ?? []);
  const names = services.config.backends.map((b) => b.name).filter((name) => !excluded.has(name));
  const [spaces] = await Promise.all([spaceOf(services, opts.recentSpace ?? false), services.health.refresh(names)]);
  // Copies of the remembered figures, except for a recent read: what is placed counts on it until the next read.
  const ordered = names.flatMap((name) => spaces.filter((s) => s.backendName === name).map((s) => (opts.recentSpace ? s : { ...s })));
  const now = services.now();
  const strategy = opts.strategy ?? services.config.routingStrategy;
  return copies.map(({ size, exclude }) => {
    const skip = new Set(exclude ?? []);
    const open = ordered.filter((s) => !skip.has(s.backendName));
    const placement = chooseOne(services, strategy, open, size, now);
    const chosen = placement.ok ? open.find((s) => s.backendName === placement.backend) : undefined;
    if (chosen) chosen.inflightBytes += size;
    return placement;
  });
}

function chooseOne(services: Services, strategy: RoutingStrategy, ordered: readonly BackendSpace[], size: number, now: number): Placement {
  const withinLimits = ordered.filter((s) => {
    const backend = services.config.backends.find((b) => b.name === s.backendName);
    return !backend || writeRefusal(services.health.usage(s.backendName), backend, size, now) === undefined;
  });
  const chosen = choosePlacement(strategy, withinLimits.filter((s) => services.health.writable(s.backendName)), size);
  if (chosen) return { ok: true, backend: chosen };
  if (choosePlacement(strategy, withinLimits, size)) return { ok: false, reason: 'unavailable' };
  if (withinLimits.length < ordered.length && choosePlacement(strategy, ordered, size)) return { ok: false, reason: 'over-usage-limit' };
  return { ok: false, reason: 'no-room' };
}

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
