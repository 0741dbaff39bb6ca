/**
 * Queue consumer: one dispatcher for bulk-job messages. Unknown messages are acknowledged and logged so a poison
 * message never blocks the queue; messages on the dead-letter queue are logged for an operator.
 */
import { createLogger } from '../observe/log.ts';

export interface QueueMessage {
  body: unknown;
  id: string;
  attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

export async function handleQueue(queueName: string, messages: readonly QueueMessage[]): Promise<void> {
  const log = createLogger('info', { queue: queueName });
  for (const message of messages) {
    if (queueName.endsWith('-dlq')) {
      log.error('job message dead-lettered', { message_id: message.id, body: message.body });
    } else {
      log.warn('unknown job message acknowledged', { message_id: message.id, body: message.body });
    }
    message.ack();
  }
}
