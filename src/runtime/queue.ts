/**
 * Queue consumer: one dispatcher for bulk-job messages, with the same services as every other entry. Unknown
 * messages are acknowledged and logged so a poison message never blocks the queue; messages on the dead-letter
 * queue are logged for an operator.
 */
import { createLogger } from '../observe/log.ts';
import { resolveActiveConfig } from './active-config.ts';
import type { Bindings } from './bindings.ts';
import { createServices, readSettings } from './services.ts';

export interface QueueMessage {
  body: unknown;
  id: string;
  attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

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
    for (const message of messages) {
      if (queueName.endsWith('-dlq')) {
        services.log.error('job message dead-lettered', { message_id: message.id, body: message.body });
      } else {
        services.log.warn('unknown job message acknowledged', { message_id: message.id, body: message.body });
      }
      message.ack();
    }
  } finally {
    bindings.waitUntil(close().catch(() => {}));
  }
}
