import { Hono } from "hono";
import { replayRuns } from "../dlq/replay";
import type { Env } from "../env";
import { HttpError } from "../shared/http-error";
import { decodeRunCursor, encodeRunCursor } from "./cursor";
import { keysetPage } from "./page";
import { issueText, parseQuery, readJsonBody } from "./query";
import { bulkReplayBody, deadLettersListQuery } from "./schemas";

interface DeadLetterRow {
  id: string;
  source: string;
  run_id: string | null;
  function_id: string | null;
  event_id: string | null;
  step_key: string | null;
  attempts: number | null;
  error_name: string | null;
  error_message: string | null;
  error_code: string | null;
  body: string | null;
  failed_at: number;
  replayed_at: number | null;
  replay_count: number;
}

function filterSql(f: { functionId?: string; since?: number; until?: number; code?: string }, args: unknown[]): string[] {
  const where: string[] = [];
  if (f.functionId) where.push(`function_id = ?${args.push(f.functionId)}`);
  if (f.since !== undefined) where.push(`failed_at >= ?${args.push(f.since)}`);
  if (f.until !== undefined) where.push(`failed_at < ?${args.push(f.until)}`);
  if (f.code) where.push(`error_code = ?${args.push(f.code)}`);
  return where;
}

const view = (r: DeadLetterRow) => ({
  id: r.id,
  source: r.source,
  runId: r.run_id,
  functionId: r.function_id,
  eventId: r.event_id,
  stepKey: r.step_key,
  attempts: r.attempts,
  error: { name: r.error_name, message: r.error_message, ...(r.error_code ? { code: r.error_code } : {}) },
  failedAt: new Date(r.failed_at).toISOString(),
  ...(r.replayed_at !== null ? { replayedAt: new Date(r.replayed_at).toISOString() } : {}),
  replayCount: r.replay_count,
  ...(r.body !== null ? { body: parseStoredBody(r.body) } : {}),
});

/** A stored body as JSON, or as its raw text when it is not JSON (rows written before bodies were always JSON). */
function parseStoredBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const deadLettersApi = new Hono<{ Bindings: Env }>()
  .get("/", async (c) => {
    const q = parseQuery(deadLettersListQuery, c.req.queries());
    const args: unknown[] = [];
    const page = await keysetPage<DeadLetterRow>(c.env.DB, {
      select: "SELECT * FROM dead_letters",
      where: filterSql(q, args),
      args,
      timeColumn: "failed_at",
      cursor: q.cursor,
      limit: q.limit,
    });
    return c.json({ deadLetters: page.rows.map(view), nextCursor: page.nextCursor });
  })
  .post("/replay", async (c) => {
    const raw = await readJsonBody(c.req.raw);
    const parsed = bulkReplayBody.safeParse(raw);
    if (!parsed.success) {
      throw new HttpError(400, "invalid_request", issueText(parsed.error.issues[0], "body", "not a field of this request"));
    }
    const { limit, cursor } = parsed.data;
    const args: unknown[] = [];
    const where = ["source = 'run'", "replayed_at IS NULL", "run_id IS NOT NULL", ...filterSql(parsed.data, args)];
    if (cursor !== undefined) where.push(`run_id > ?${args.push(decodeRunCursor(cursor))}`);
    // Per run, the chosen dead letters and the newest failure among them (a run dead letter's id is `<run id>.<version>`).
    const sql = `SELECT run_id, max(CAST(substr(id, length(run_id) + 2) AS INTEGER)) AS failure, json_group_array(id) AS letters
      FROM dead_letters WHERE ${where.join(" AND ")} GROUP BY run_id ORDER BY run_id LIMIT ?${args.push(limit + 1)}`;
    const rows = (
      await c.env.DB.prepare(sql)
        .bind(...args)
        .all<{ run_id: string; failure: number | null; letters: string }>()
    ).results;
    const chosen = rows.slice(0, limit);
    const targets = chosen.map((r) => ({
      runId: r.run_id,
      ...(r.failure ? { failure: r.failure, letters: JSON.parse(r.letters) as string[] } : {}),
    }));
    const outcomes = await replayRuns(c.env, targets, parsed.data.from);
    const replayed = outcomes.filter((o) => o.type === "replayed").map((o) => o.runId);
    return c.json({
      replayed: replayed.length,
      skipped: outcomes.filter((o) => o.type === "not-failed" || o.type === "not-found" || o.type === "superseded").length,
      remaining: rows.length > limit,
      // Past the runs this call chose, whatever became of them: runs that stay unreplayed (not found, or
      // their object threw) would otherwise be chosen first again by every call and could crowd out the rest.
      nextCursor: rows.length > limit ? encodeRunCursor(chosen[chosen.length - 1]!.run_id) : null,
      runIds: replayed,
      failed: outcomes.flatMap((o) => (o.type === "error" ? [{ runId: o.runId, message: o.message }] : [])),
    });
  });
