import type { Env } from "../env";
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

/**
 * The index queue consumer: writes the run listing in D1, one statement per
 * delivery, so a burst of runs ending costs D1 a handful of writes instead of
 * one each. Malformed messages go on toward the dead-letter queue, where they
 * are recorded; a failed write retries the delivery.
 */
export async function consumeIndex(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const rows: IndexMessage[] = [];
  const good: Message<unknown>[] = [];
  for (const msg of batch.messages) {
    const parsed = indexMessageSchema.safeParse(msg.body);
    if (parsed.success) {
      rows.push(parsed.data);
      good.push(msg);
    } else {
      console.error(`stepflare: index message ${msg.id} is malformed; retrying toward the dead-letter queue`);
      msg.retry();
    }
  }
  if (rows.length === 0) return;
  try {
    await env.DB.prepare(UPSERT_RUNS).bind(JSON.stringify(rows)).run();
    for (const msg of good) msg.ack();
  } catch (e) {
    console.error(`stepflare: writing ${rows.length} listing rows failed; retrying:`, (e as Error).message);
    for (const msg of good) msg.retry();
  }
}
