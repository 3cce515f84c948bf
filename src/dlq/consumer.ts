import { failureLetter, insertDeadLetters, poisonLetter } from "../d1/dead-letters";
import type { Env } from "../env";
import { failureMessageSchema } from "../messages/failures";
import type { QueueNames } from "../queues";

/** Delay before a message's next try after D1 failed it: 5 s doubling to 15 min, so ten tries span about 50 minutes. */
export const deadLetterRetryDelaySeconds = (attempts: number): number => Math.min(5 * 2 ** Math.max(0, attempts - 1), 900);

/**
 * Stores dead letters in D1: failed runs from the failures queue, and poison
 * messages that exhausted their retries on the events or steps queue, kept with
 * their queue and body (the listing queue's dead letters go to the listing
 * consumer). Records are keyed, so a redelivery stores nothing twice. These
 * queues have no dead-letter queue of their own, so a failed write retries
 * each message with a growing delay, to ride out a D1 outage, not just a blip.
 */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env, names: QueueNames): Promise<void> {
  const now = Date.now();
  const rows = batch.messages.map((msg) => {
    if (batch.queue === names.failures) {
      const parsed = failureMessageSchema.safeParse(msg.body);
      if (parsed.success) return failureLetter(parsed.data);
    }
    return poisonLetter(msg, batch.queue, sourceOf(batch.queue, names), now);
  });
  try {
    await insertDeadLetters(env.DB, rows);
  } catch (e) {
    console.error(`stepflare: storing ${rows.length} dead letter(s) failed; retrying with backoff:`, (e as Error).message);
    for (const msg of batch.messages) msg.retry({ delaySeconds: deadLetterRetryDelaySeconds(msg.attempts) });
    return;
  }
  batch.ackAll();
}

/** The queue a dead-lettered message was first sent to. */
function sourceOf(queue: string, names: QueueNames): string {
  if (queue === names.eventsDeadLetter) return names.events;
  if (queue === names.stepsDeadLetter) return names.steps;
  return queue;
}
