/** The Worker's bindings, as declared in wrangler.toml. */
export interface Env {
  CONFIG_KV: KVNamespace;
  BACKEND_STATE: DurableObjectNamespace;
  CLIENT_RATE_LIMIT: DurableObjectNamespace;
  FLEET_COUNTERS: DurableObjectNamespace;
  JOBS: Queue<unknown>;
  /** The configuration document (YAML). */
  S3O_CONFIG?: string;
  DATABASE_URL?: string;
  /** Local development only: host:port of the WebSocket-to-Postgres bridge. */
  DATABASE_LOCAL_PROXY?: string;
  /** "production" under [env.production]. */
  S3O_ENVIRONMENT?: string;
  [name: string]: unknown;
}
