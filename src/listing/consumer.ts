import { insertDeadLetters, poisonLetter } from "../d1/dead-letters";
import type { Env } from "../env";
import { type ListingMessage, listingMessageSchema } from "../messages/listing";
import type { QueueNames } from "../queues";
import { writeListing } from "./store";

/**
 * The consumer of the listing queue and of its dead-letter queue: writes the
 * run listing, one call per shard per delivery, so a burst of runs ending
 * costs each shard a handful of calls instead of one per run. A failed write
 * retries the delivery.
 *
 * A well-formed row that reaches the dead-letter queue exhausted its retries
 * because its shard kept failing, not because it was bad: the run object has
 * already let it go, so it is written here, or, if that still fails, handed back to the
 * run object to send again. Only a malformed message is recorded as a poison
 * dead letter.
 */
export async function consumeListing(batch: MessageBatch<unknown>, env: Env, names: QueueNames): Promise<void> {
  const deadLettered = batch.queue === names.listingDeadLetter;
  const rows: ListingMessage[] = [];
  const good: Message<unknown>[] = [];
  const malformed: Message<unknown>[] = [];
  for (const msg of batch.messages) {
    const parsed = listingMessageSchema.safeParse(msg.body);
    if (parsed.success) {
      rows.push(parsed.data);
      good.push(msg);
    } else {
      malformed.push(msg);
    }
  }
  if (malformed.length > 0) await settleMalformed(malformed, batch.queue, deadLettered, env, names);
  if (rows.length === 0) return;
  try {
    await writeListing(env, rows);
    for (const msg of good) msg.ack();
  } catch (e) {
    console.error(`stepflare: writing ${rows.length} listing rows failed; retrying:`, (e as Error).message);
    if (!deadLettered) for (const msg of good) msg.retry();
    else await handBack(rows, good, env);
  }
}

/**
 * Rows the listing refused through both queues' retries go back to their run objects,
 * which send them again later, so the listing converges once it is back
 * instead of losing a row when this queue's retries run out. A row whose
 * object did not answer is retried here.
 */
async function handBack(rows: ListingMessage[], messages: Message<unknown>[], env: Env): Promise<void> {
  await Promise.all(
    rows.map(async (row, i) => {
      // A held run has no object to hand its row to; the row its start sends replaces it.
      if (row.version < 0) return messages[i]!.ack();
      try {
        await env.RUNS.get(env.RUNS.idFromName(row.id)).syncListingLater();
        messages[i]!.ack();
      } catch (e) {
        console.error(`stepflare: handing listing row ${row.id} back to its run failed; retrying:`, (e as Error).message);
        messages[i]!.retry();
      }
    }),
  );
}

/** On the listing queue a malformed message retries toward the dead-letter queue; there, it is recorded. */
async function settleMalformed(
  messages: Message<unknown>[],
  queue: string,
  deadLettered: boolean,
  env: Env,
  names: QueueNames,
): Promise<void> {
  if (!deadLettered) {
    for (const msg of messages) {
      console.error(`stepflare: listing message ${msg.id} is malformed; retrying toward the dead-letter queue`);
      msg.retry();
    }
    return;
  }
  const now = Date.now();
  try {
    await insertDeadLetters(
      env.DB,
      messages.map((msg) => poisonLetter(msg, queue, names.listing, now)),
    );
    for (const msg of messages) msg.ack();
  } catch (e) {
    console.error(`stepflare: recording ${messages.length} poison listing messages failed; retrying:`, (e as Error).message);
    for (const msg of messages) msg.retry();
  }
}
