import type { Env } from "../env";
import type { QueueNames } from "../queues";
import { chunkJsonRows, runChunked } from "../shared/row-chunks";
import { type FailureMessage, failureMessageSchema } from "./message";

const INSERT_DEAD_LETTERS = `
INSERT OR IGNORE INTO dead_letters
  (id, source, run_id, function_id, event_id, step_key, attempts, error_name, error_message, error_code, error, body, failed_at)
SELECT value ->> 'id', value ->> 'source', value ->> 'runId', value ->> 'functionId', value ->> 'eventId', value ->> 'stepKey',
       value ->> 'attempts', value ->> 'errorName', value ->> 'errorMessage', value ->> 'errorCode', value ->> 'error',
       value ->> 'body', value ->> 'failedAt'
FROM json_each(?1)`;

/** Delay before a message's next try after D1 failed it: 5 s doubling to 15 min, so ten tries span about 50 minutes. */
export const deadLetterRetryDelaySeconds = (attempts: number): number => Math.min(5 * 2 ** Math.max(0, attempts - 1), 900);

/**
 * Stores dead letters in D1: failed runs from the failures queue, and poison
 * messages that exhausted their retries on the events or steps queue, kept with
 * their queue and body (the index queue's dead letters go to the listing
 * consumer). Records are keyed, so a redelivery stores nothing twice. These
 * queues have no dead-letter queue of their own, so a failed write retries
 * each message with a growing delay, to ride out a D1 outage, not just a blip.
 */
export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env, names: QueueNames): Promise<void> {
  const now = Date.now();
  const rows = batch.messages.map((msg) => {
    if (batch.queue === names.failures) {
      const parsed = failureMessageSchema.safeParse(msg.body);
      if (parsed.success) return failureRow(parsed.data);
    }
    return poisonRow(msg, batch.queue, sourceOf(batch.queue, names), now);
  });
  try {
    await insertDeadLetters(env, rows);
  } catch (e) {
    console.error(`stepflare: storing ${rows.length} dead letter(s) failed; retrying with backoff:`, (e as Error).message);
    for (const msg of batch.messages) msg.retry({ delaySeconds: deadLetterRetryDelaySeconds(msg.attempts) });
    return;
  }
  batch.ackAll();
}

type DeadLetterRow = Record<string, string | number | null>;

/**
 * Stores dead-letter rows in one statement, or in one batch of statements
 * where the rows (poison messages keep their bodies) would pass what D1 binds
 * at once; a row already stored is left as it is.
 */
export async function insertDeadLetters(env: Env, rows: DeadLetterRow[]): Promise<void> {
  if (rows.length === 0) return;
  const texts = rows.map((r) => JSON.stringify(r));
  await runChunked(
    env.DB,
    INSERT_DEAD_LETTERS,
    chunkJsonRows(
      texts,
      texts.reduce((n, t) => n + t.length, 0),
    ),
  );
}

/** A failed run's dead letter as its row. */
export function failureRow(f: FailureMessage): DeadLetterRow {
  return {
    id: f.id,
    source: "run",
    runId: f.runId,
    functionId: f.functionId,
    eventId: f.eventId,
    stepKey: f.stepId,
    attempts: f.attempts,
    errorName: f.error.name,
    errorMessage: f.error.message,
    errorCode: f.error.code ?? null,
    error: JSON.stringify(f.error),
    body: null,
    failedAt: f.failedAt,
  };
}

/** A message that could not be processed after its retries, kept with the queue it was first sent to and its body. */
export function poisonRow(msg: Message<unknown>, queue: string, source: string, now: number): DeadLetterRow {
  return {
    id: `${queue}.${msg.id}`,
    source,
    runId: null,
    functionId: null,
    eventId: null,
    stepKey: null,
    attempts: msg.attempts,
    errorName: "PoisonMessage",
    errorMessage: `a message on ${source} could not be processed after its retries`,
    errorCode: "poison_message",
    error: null,
    body: safeStringify(msg.body),
    failedAt: now,
  };
}

/** The queue a dead-lettered message was first sent to. */
function sourceOf(queue: string, names: QueueNames): string {
  if (queue === names.eventsDeadLetter) return names.events;
  if (queue === names.stepsDeadLetter) return names.steps;
  return queue;
}

/**
 * A message body as JSON, always valid JSON: a BigInt is written as its
 * digits in a string; a body JSON cannot hold (undefined, a cycle) is kept as
 * the JSON string of its text.
 */
function safeStringify(body: unknown): string {
  try {
    const text = JSON.stringify(body, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
    if (text !== undefined) return text;
  } catch {
    // a cycle: fall through to the body's text
  }
  return JSON.stringify(String(body));
}
