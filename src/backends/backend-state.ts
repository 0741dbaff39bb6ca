/**
 * The per-backend state kept in the backend's Durable Object so every isolate sees the same thing. The drain,
 * circuit-breaker and usage issues extend it; for now a backend is simply active.
 */
export interface BackendStateSnapshot {
  mode: 'active' | 'draining' | 'drained';
}

export function initialBackendState(): BackendStateSnapshot {
  return { mode: 'active' };
}
