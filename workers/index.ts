/** The deployable edge: adapts Cloudflare's entry points and bindings to src/. No business rules here. */
import { handleFetch } from '../src/runtime/fetch.ts';
import { handleQueue } from '../src/runtime/queue.ts';
import { handleScheduled } from '../src/runtime/scheduled.ts';
import type { Bindings } from '../src/runtime/bindings.ts';
import type { Env } from './env.ts';

export { BackendState } from './backend-state.ts';

function bindingsFrom(env: Env, ctx: ExecutionContext): Bindings {
  return {
    configText: env.S3O_CONFIG,
    vars: env,
    databaseUrl: env.DATABASE_URL,
    databaseLocalProxy: env.DATABASE_LOCAL_PROXY,
    environment: env.S3O_ENVIRONMENT,
    configStore: {
      get: (key) => env.CONFIG_KV.get(key),
      put: (key, value, metadata) => env.CONFIG_KV.put(key, value, metadata ? { metadata } : undefined),
      list: async (prefix, cursor) => {
        const page = await env.CONFIG_KV.list({ prefix, ...(cursor ? { cursor } : {}) });
        return { keys: page.keys, ...(page.list_complete ? {} : { cursor: page.cursor }) };
      },
    },
    waitUntil: (promise) => ctx.waitUntil(promise),
  };
}

export default {
  fetch: (request, env, ctx) => handleFetch(request, bindingsFrom(env, ctx)),
  scheduled: (controller, env, ctx) => handleScheduled(controller.cron, controller.scheduledTime, bindingsFrom(env, ctx)),
  queue: (batch, _env) => handleQueue(batch.queue, batch.messages),
} satisfies ExportedHandler<Env>;
