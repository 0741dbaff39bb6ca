/** One Durable Object per backend: the home of its fleet-wide state. */
import { DurableObject } from 'cloudflare:workers';
import { type BackendStateSnapshot, initialBackendState } from '../src/backends/backend-state.ts';
import type { Env } from './env.ts';

export class BackendState extends DurableObject<Env> {
  async snapshot(): Promise<BackendStateSnapshot> {
    return (await this.ctx.storage.get<BackendStateSnapshot>('state')) ?? initialBackendState();
  }
}
