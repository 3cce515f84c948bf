import { insertDeadLetters, poisonRow } from "../dlq/consumer";
import type { Env } from "../env";
import type { QueueNames } from "../queues";
import { type IndexMessage, indexMessageSchema } from "./message";

// Every row of a delivery in one statement. Monotonic: a row only lands if it
// is newer than what the listing holds, whatever order the rows arrive in.
const UPSERT_RUNS = `
INSERT INTO runs (id, function_id, event_id, status, started_at, ended_at, error_code, version)
SELECT value ->> 'id', value ->> 'functionId', value ->> 'eventId', value ->> 'status', value ->> 'startedAt',
       value ->> 'endedAt', value ->> 'errorCode', value ->> 'version'
FROM json_each(?1) WHERE true
ON CONFLICT(id) DO UPDATE SET
  status = excluded.status, ended_at = excluded.ended_at, error_code = excluded.error_code, version = excluded.version
WHERE excluded.version > runs.version`;

/** Writes listing rows in one statement, each only where it is newer than the listing's. */
export const upsertListing = (db: D1Database, rows: IndexMessage[]): D1PreparedStatement =>
  db.prepare(UPSERT_RUNS).bind(JSON.stringify(rows));

/**
 * The consumer of the index queue and of its dead-letter queue: writes the run
 * listing in D1, one statement per delivery, so a burst of runs ending costs D1
 * a handful of writes instead of one each. A failed write retries the delivery.
 *
 * A well-formed row that reaches the dead-letter queue exhausted its retries
 * because D1 kept failing, not because it was bad: the run object has already
 * let it go, so it is written here, or, if D1 still fails, handed back to the
 * run object to send again. Only a malformed message is recorded as a poison
 * dead letter.
 */
export async function consumeIndex(batch: MessageBatch<unknown>, env: Env, names: QueueNames): Promise<void> {
  const deadLettered = batch.queue === names.indexDeadLetter;
  const rows: IndexMessage[] = [];
  const good: Message<unknown>[] = [];
  const malformed: Message<unknown>[] = [];
  for (const msg of batch.messages) {
    const parsed = indexMessageSchema.safeParse(msg.body);
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
    await upsertListing(env.DB, rows).run();
    for (const msg of good) msg.ack();
  } catch (e) {
    console.error(`stepflare: writing ${rows.length} listing rows failed; retrying:`, (e as Error).message);
    if (!deadLettered) for (const msg of good) msg.retry();
    else await handBack(rows, good, env);
  }
}

/**
 * Rows D1 refused through both queues' retries go back to their run objects,
 * which send them again later, so the listing converges once D1 is back
 * instead of losing a row when this queue's retries run out. A row whose
 * object did not answer is retried here.
 */
async function handBack(rows: IndexMessage[], messages: Message<unknown>[], env: Env): Promise<void> {
  await Promise.all(
    rows.map(async (row, i) => {
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

/** On the index queue a malformed message retries toward the dead-letter queue; there, it is recorded. */
async function settleMalformed(
  messages: Message<unknown>[],
  queue: string,
  deadLettered: boolean,
  env: Env,
  names: QueueNames,
): Promise<void> {
  if (!deadLettered) {
    for (const msg of messages) {
      console.error(`stepflare: index message ${msg.id} is malformed; retrying toward the dead-letter queue`);
      msg.retry();
    }
    return;
  }
  const now = Date.now();
  try {
    await insertDeadLetters(
      env,
      messages.map((msg) => poisonRow(msg, queue, names.index, now)),
    );
    for (const msg of messages) msg.ack();
  } catch (e) {
    console.error(`stepflare: recording ${messages.length} poison index messages failed; retrying:`, (e as Error).message);
    for (const msg of messages) msg.retry();
  }
}
