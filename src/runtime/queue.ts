/**
 * Queue consumer: one dispatcher for the Worker's queues, with the same services as every other entry. Bulk-job
 * messages (src/jobs/bulk-jobs.ts): a message whose work fails is retried later; unknown messages are acknowledged
 * and logged so a poison message never blocks the queue; a batch on the dead-letter queue counts its copies as
 * failed. Notifications (src/notify/delivery.ts): each message is one event for one endpoint.
 */
import { abandonBatch, isBatchMessage, runBatch } from '../jobs/bulk-jobs.ts';
import { deliverNotifications, dropDeadLetters } from '../notify/delivery.ts';
import { createLogger, errorFields } from '../observe/log.ts';
import type { Services } from '../services/services.ts';
import { resolveActiveConfig } from './active-config.ts';
import type { Bindings } from './bindings.ts';
import { createServices, readSettings } from './services.ts';

const RETRY_DELAY_SECONDS = 30;

export interface QueueMessage {
  body: unknown;
  id: string;
  attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

type Consumer = (services: Services, messages: readonly QueueMessage[]) => Promise<void>;

/** Each queue (wrangler.toml) and what consumes it. */
const CONSUMERS: Record<string, Consumer> = {
  's3o-jobs': (services, messages) => consumeJobs(services, messages, { deadLetters: false }),
  's3o-jobs-dlq': (services, messages) => consumeJobs(services, messages, { deadLetters: true }),
  's3o-notifications': (services, messages) => {
    const { endpoints, retryDelayMs } = services.config.notifications;
    return deliverNotifications({ endpoints, retryDelayMs, counters: services.counters, log: services.log, now: services.now, fetch: (request) => fetch(request) }, messages);
  },
  's3o-notifications-dlq': async (services, messages) => dropDeadLetters(services, messages),
};

export async function handleQueue(queueName: string, messages: readonly QueueMessage[], bindings: Bindings): Promise<void> {
  const runtime = await readSettings(bindings);
  const loaded = await resolveActiveConfig(bindings, runtime.logLevel);
  if (!loaded.ok) {
    // Retried later (and dead-lettered after max_retries) rather than dropped: the next deploy may fix it.
    createLogger('info', { queue: queueName }).error('configuration unusable; queue messages retried later', { error: loaded.error });
    for (const message of messages) message.retry({ delaySeconds: 60 });
    return;
  }
  const { services, close } = createServices(bindings, loaded.active, { runtime, logFields: { queue: queueName } });
  try {
    const consume = CONSUMERS[queueName];
    if (consume) await consume(services, messages);
    else {
      services.log.error('messages from a queue nothing consumes acknowledged (see wrangler.toml)', { count: messages.length });
      for (const message of messages) message.ack();
    }
  } finally {
    bindings.waitUntil(close().catch(() => {}));
  }
}

async function consumeJobs(services: Services, messages: readonly QueueMessage[], { deadLetters }: { deadLetters: boolean }): Promise<void> {
  // One at a time: a batch message already holds up to 500 copies.
  for (const message of messages) {
    const body = message.body;
    const log = services.log.with({ message_id: message.id, attempts: message.attempts });
    if (!isBatchMessage(body)) {
      log.warn(deadLetters ? 'unknown dead-lettered message dropped' : 'unknown job message acknowledged', { body });
      message.ack();
      continue;
    }
    try {
      if (deadLetters) {
        log.error('job message dead-lettered', { body });
        await abandonBatch({ ...services, log }, body);
      } else {
        await runBatch({ ...services, log }, body);
      }
      message.ack();
    } catch (err) {
      // The database or the queue is away: the queue delivers it again later (dead-lettered after max_retries).
      log.error('job message failed; retried later', { type: body.type, ...errorFields(err) });
      message.retry({ delaySeconds: RETRY_DELAY_SECONDS });
    }
  }
}
