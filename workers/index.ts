/** The deployable edge: adapts Cloudflare's entry points and bindings to src/. No business rules here. */
import { handleFetch } from '../src/runtime/fetch.ts';
import { handleQueue } from '../src/runtime/queue.ts';
import { handleScheduled } from '../src/runtime/scheduled.ts';
import { bindingsFrom } from './bindings.ts';
import type { Env } from './env.ts';

export { BackendState } from './backend-state.ts';
export { ClientRateLimit } from './client-rate-limit.ts';
export { FleetCounters } from './fleet-counters.ts';
export { AdminEvents } from './admin-events.ts';
export { MetricsShard } from './metrics-shard.ts';
export { TraceCollector } from './trace-collector.ts';

export default {
  fetch(request, env, ctx) {
    const work = handleFetch(request, bindingsFrom(env, (p) => ctx.waitUntil(p)));
    // A client that hangs up cancels its request's work, unless it is waited for (then up to 30 s more): a delete
    // already committed in Postgres, or bytes already on a backend, must still reach their cleanup.
    ctx.waitUntil(work.catch(() => undefined));
    return work;
  },
  scheduled: (controller, env, ctx) => handleScheduled(controller.cron, controller.scheduledTime, bindingsFrom(env, (p) => ctx.waitUntil(p))),
  queue: (batch, env, ctx) => handleQueue(batch.queue, batch.messages, bindingsFrom(env, (p) => ctx.waitUntil(p))),
} satisfies ExportedHandler<Env>;
