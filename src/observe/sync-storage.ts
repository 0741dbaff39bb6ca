/**
 * The part of a Durable Object's synchronous key-value storage that the fleet's bookkeeping objects use (the metrics
 * shards, the trace collector), so their rules run in one storage transaction and can be tested over a Map.
 */
export interface SyncStorage {
  get<T>(key: string): T | undefined;
  put(key: string, value: unknown): void;
  delete(key: string): boolean;
  list<T>(options: { prefix: string }): Iterable<[string, T]>;
}

/** Storage in a Map for tests and in-memory services; values are copied in and out, as a Durable Object's are. */
export function memorySyncStorage(): SyncStorage & { entries: Map<string, unknown> } {
  const entries = new Map<string, unknown>();
  return {
    entries,
    get: <T>(key: string) => structuredClone(entries.get(key)) as T | undefined,
    put: (key, value) => void entries.set(key, structuredClone(value)),
    delete: (key) => entries.delete(key),
    list: <T>({ prefix }: { prefix: string }) =>
      [...entries]
        .filter(([key]) => key.startsWith(prefix))
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, value]): [string, T] => [key, structuredClone(value) as T]),
  };
}
