import type { FailureMessage } from "../messages/failures";
import { keysetPage, type PagePosition } from "./keyset-page";
import { chunkJsonRows, runChunked } from "./row-chunks";

/**
 * The `dead_letters` table: runs that failed for good, and queue messages
 * that could not be processed after their retries. All of its SQL is here.
 */

/** A dead letter as it is inserted. */
export interface DeadLetter {
  id: string;
  source: string;
  runId: string | null;
  runVersion: number | null;
  functionId: string | null;
  eventId: string | null;
  stepKey: string | null;
  attempts: number;
  errorName: string;
  errorMessage: string;
  errorCode: string | null;
  errorStack: string | null;
  body: string | null;
  failedAt: number;
}

/** A dead letter as the API reads it. */
export interface StoredDeadLetter {
  id: string;
  source: string;
  run_id: string | null;
  run_version: number | null;
  function_id: string | null;
  event_id: string | null;
  step_key: string | null;
  attempts: number | null;
  error_name: string | null;
  error_message: string | null;
  error_code: string | null;
  error_stack: string | null;
  body: string | null;
  failed_at: number;
  replayed_at: number | null;
  replay_count: number;
}

/** Which dead letters a listing or a bulk replay takes. */
export interface DeadLetterFilter {
  functionId?: string | undefined;
  since?: number | undefined;
  until?: number | undefined;
  code?: string | undefined;
}

/** A run with dead letters to replay: the letters chosen and the newest run version among them. */
export interface ReplayCandidate {
  runId: string;
  failure: number | null;
  letters: string[];
}

const INSERT_DEAD_LETTERS = `
INSERT OR IGNORE INTO dead_letters
  (id, source, run_id, run_version, function_id, event_id, step_key, attempts, error_name, error_message, error_code, error_stack, body, failed_at)
SELECT value ->> 'id', value ->> 'source', value ->> 'runId', value ->> 'runVersion', value ->> 'functionId', value ->> 'eventId',
       value ->> 'stepKey', value ->> 'attempts', value ->> 'errorName', value ->> 'errorMessage', value ->> 'errorCode',
       value ->> 'errorStack', value ->> 'body', value ->> 'failedAt'
FROM json_each(?1)`;
const HAS_DEAD_LETTER = "SELECT 1 FROM dead_letters WHERE id = ?";
// The unreplayed dead letters the listed runs had when a replay began.
const RUNS_LETTERS = `source = 'run' AND replayed_at IS NULL AND failed_at < ?3 AND run_id IN (SELECT value FROM json_each(?1))`;
const MARK_REPLAYED = `UPDATE dead_letters SET replayed_at = ?2, replay_count = replay_count + 1 WHERE ${RUNS_LETTERS}`;
// A run that is no longer failed has been replayed since these failures (only a replay moves a failed run):
// they are settled, though not by this call, so they are marked without counting a replay.
const MARK_SETTLED = `UPDATE dead_letters SET replayed_at = ?2 WHERE ${RUNS_LETTERS}`;
// A run that has failed again since the chosen dead letters: those are superseded by its newer failure,
// which this call did not choose (another code, say) and leaves unreplayed.
const MARK_SUPERSEDED = `
UPDATE dead_letters SET replayed_at = ?2
WHERE source = 'run' AND replayed_at IS NULL AND id IN (SELECT value FROM json_each(?1))`;

/** A failed run's dead letter as its row. */
export function failureLetter(f: FailureMessage): DeadLetter {
  return {
    id: f.id,
    source: "run",
    runId: f.runId,
    runVersion: f.runVersion,
    functionId: f.functionId,
    eventId: f.eventId,
    stepKey: f.stepKey,
    attempts: f.attempts,
    errorName: f.error.name,
    errorMessage: f.error.message,
    errorCode: f.error.code ?? null,
    errorStack: f.error.stack ?? null,
    body: null,
    failedAt: f.failedAt,
  };
}

/** A message that could not be processed after its retries, kept with the queue it was first sent to and its body. */
export function poisonLetter(msg: Message<unknown>, queue: string, source: string, now: number): DeadLetter {
  return {
    id: `${queue}.${msg.id}`,
    source,
    runId: null,
    runVersion: null,
    functionId: null,
    eventId: null,
    stepKey: null,
    attempts: msg.attempts,
    errorName: "PoisonMessage",
    errorMessage: `a message on ${source} could not be processed after its retries`,
    errorCode: "poison_message",
    errorStack: null,
    body: safeStringify(msg.body),
    failedAt: now,
  };
}

/**
 * Stores dead letters in one statement, or in one batch of statements where
 * the rows (poison messages keep their bodies) would pass what D1 binds at
 * once; a dead letter already stored is left as it is.
 */
export async function insertDeadLetters(db: D1Database, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const texts = letters.map((r) => JSON.stringify(r));
  await runChunked(
    db,
    INSERT_DEAD_LETTERS,
    chunkJsonRows(
      texts,
      texts.reduce((n, t) => n + t.length, 0),
    ),
  );
}

/** Whether D1 holds the dead letter with this id. */
export async function hasDeadLetter(db: D1Database, id: string): Promise<boolean> {
  return (await db.prepare(HAS_DEAD_LETTER).bind(id).first()) !== null;
}

function filterSql(f: DeadLetterFilter, args: unknown[]): string[] {
  const where: string[] = [];
  if (f.functionId) where.push(`function_id = ?${args.push(f.functionId)}`);
  if (f.since !== undefined) where.push(`failed_at >= ?${args.push(f.since)}`);
  if (f.until !== undefined) where.push(`failed_at < ?${args.push(f.until)}`);
  if (f.code) where.push(`error_code = ?${args.push(f.code)}`);
  return where;
}

/** One page of dead letters, newest first. */
export async function listDeadLetters(
  db: D1Database,
  filter: DeadLetterFilter,
  after: PagePosition | undefined,
  limit: number,
): Promise<{ rows: StoredDeadLetter[]; next: PagePosition | null }> {
  const args: unknown[] = [];
  return keysetPage<StoredDeadLetter>(db, {
    select: "SELECT * FROM dead_letters",
    where: filterSql(filter, args),
    args,
    timeColumn: "failed_at",
    after,
    limit,
  });
}

/** How many runs a bulk replay with this filter would replay: those with unreplayed dead letters of a failed run. */
export async function replayableRunCount(db: D1Database, filter: DeadLetterFilter): Promise<number> {
  const args: unknown[] = [];
  const where = ["source = 'run'", "replayed_at IS NULL", "run_id IS NOT NULL", ...filterSql(filter, args)];
  const row = await db
    .prepare(`SELECT count(DISTINCT run_id) AS n FROM dead_letters WHERE ${where.join(" AND ")}`)
    .bind(...args)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/**
 * Up to `limit` runs, in run id order after `afterRunId`, with unreplayed
 * dead letters of failed runs that match the filter: per run, those letters
 * and the newest run version among them.
 */
export async function replayCandidates(
  db: D1Database,
  filter: DeadLetterFilter,
  afterRunId: string | undefined,
  limit: number,
): Promise<ReplayCandidate[]> {
  const args: unknown[] = [];
  const where = ["source = 'run'", "replayed_at IS NULL", "run_id IS NOT NULL", ...filterSql(filter, args)];
  if (afterRunId !== undefined) where.push(`run_id > ?${args.push(afterRunId)}`);
  const sql = `SELECT run_id, max(run_version) AS failure, json_group_array(id) AS letters
    FROM dead_letters WHERE ${where.join(" AND ")} GROUP BY run_id ORDER BY run_id LIMIT ?${args.push(limit)}`;
  const rows = await db
    .prepare(sql)
    .bind(...args)
    .all<{ run_id: string; failure: number | null; letters: string }>();
  return rows.results.map((r) => ({
    runId: r.run_id,
    failure: r.failure === null ? null : Number(r.failure),
    letters: JSON.parse(r.letters) as string[],
  }));
}

/**
 * The statements that settle a replay's dead letters at `now`: those the
 * `replayed` runs had before `began` are marked replayed and counted; those
 * the `settled` runs (replayed since) had are marked only; the `superseded`
 * letters by id are marked only. Run as one batch.
 */
export function markReplays(
  db: D1Database,
  marks: { replayed: string[]; settled: string[]; superseded: string[] },
  began: number,
  now: number,
): D1PreparedStatement[] {
  return [
    ...(marks.replayed.length > 0 ? [db.prepare(MARK_REPLAYED).bind(JSON.stringify(marks.replayed), now, began)] : []),
    ...(marks.settled.length > 0 ? [db.prepare(MARK_SETTLED).bind(JSON.stringify(marks.settled), now, began)] : []),
    ...(marks.superseded.length > 0 ? [db.prepare(MARK_SUPERSEDED).bind(JSON.stringify(marks.superseded), now)] : []),
  ];
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

/** Deletes up to `limit` dead letters that failed before `before`; answers how many. */
export async function deleteDeadLettersBefore(db: D1Database, before: number, limit: number): Promise<number> {
  const r = await db
    .prepare("DELETE FROM dead_letters WHERE rowid IN (SELECT rowid FROM dead_letters WHERE failed_at < ?1 ORDER BY failed_at LIMIT ?2)")
    .bind(before, limit)
    .run();
  return r.meta.changes ?? 0;
}
