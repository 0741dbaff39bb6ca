/**
 * Cron job: a backend whose breaker is open may get no traffic at all (writes avoid it, and it may hold no copy
 * anyone reads), so nothing would ever probe it. Every tick, each open breaker whose time is up gets one cheap
 * probe: a GET of a key that does not exist, where a 404 means the backend is answering again.
 */
import { BackendError, describeError } from '../backends/client.ts';
import type { Services } from '../services/services.ts';

const PROBE_KEY = '.s3o-health-probe';

export async function breakerWatchJob(services: Services): Promise<void> {
  const names = services.config.backends.map((b) => b.name);
  await services.health.refresh(names);
  await Promise.all(
    names
      .filter((name) => services.health.state(name).state !== 'closed')
      .map(async (name) => {
        const rpc = services.backendState(name);
        const { allowed } = await rpc.admitCall();
        if (!allowed) return;
        const client = services.backend(name);
        try {
          const response = await client.getObject(PROBE_KEY);
          await response.body?.cancel();
          await rpc.reportSuccess(name);
        } catch (err) {
          if (err instanceof BackendError && err.status === 404) await rpc.reportSuccess(name);
          else await rpc.reportFailure(name, describeError(err));
        }
        services.log.info('backend probed', { backend: name, state: (await rpc.breaker()).state });
      }),
  );
}
