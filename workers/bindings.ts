/** Cloudflare's env and context, adapted to what src/ needs (the Worker entry and the Durable Objects share it). */
import type { Bindings } from '../src/runtime/bindings.ts';
import { configVariables } from '../src/config/config-variables.ts';
import type { Env } from './env.ts';
import { FLEET_COUNTERS_NAME } from './fleet-counters.ts';
import { ADMIN_EVENTS_NAME } from './admin-events.ts';
import { metricsShardName } from './metrics-shard.ts';
import { TRACE_COLLECTOR_NAME } from './trace-collector.ts';

/** The env object lives as long as the isolate; its configuration variables are worked out once. */
const variablesByEnv = new WeakMap<Env, Record<string, string>>();
function configVariablesOf(env: Env): Record<string, string> {
  let vars = variablesByEnv.get(env);
  if (!vars) variablesByEnv.set(env, (vars = configVariables(Object.entries(env), env.S3O_CONFIG)));
  return vars;
}

export function bindingsFrom(env: Env, waitUntil: (promise: Promise<unknown>) => void): Bindings {
  return {
    configText: env.S3O_CONFIG,
    vars: configVariablesOf(env),
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
    backendState: (name) => env.BACKEND_STATE.get(env.BACKEND_STATE.idFromName(name)),
    rateLimiter: (key) => env.CLIENT_RATE_LIMIT.get(env.CLIENT_RATE_LIMIT.idFromName(key)),
    fleetCounters: () => env.FLEET_COUNTERS.get(env.FLEET_COUNTERS.idFromName(FLEET_COUNTERS_NAME)),
    adminEvents: () => env.ADMIN_EVENTS.get(env.ADMIN_EVENTS.idFromName(ADMIN_EVENTS_NAME)),
    metricsShard: (index) => env.METRICS_SHARD.get(env.METRICS_SHARD.idFromName(metricsShardName(index))),
    traceCollector: () => env.TRACE_COLLECTOR.get(env.TRACE_COLLECTOR.idFromName(TRACE_COLLECTOR_NAME)),
    jobs: {
      send: async (body) => {
        await env.JOBS.send(body, { contentType: 'json' });
      },
      sendBatch: async (bodies) => {
        await env.JOBS.sendBatch(bodies.map((body) => ({ body, contentType: 'json' as const })));
      },
    },
    notifications: {
      sendBatch: async (messages) => {
        await env.NOTIFICATIONS.sendBatch(messages.map((body) => ({ body, contentType: 'json' as const })));
      },
    },
    assets: env.ASSETS,
    waitUntil,
  };
}
