import { Hono } from "hono";
import { listDeadLetters, replayCandidates, type StoredDeadLetter } from "../d1/dead-letters";
import { replayRuns } from "../dlq/replay";
import type { Env } from "../env";
import { HttpError } from "../shared/http-error";
import { decodeCursor, decodeRunCursor, encodeCursor, encodeRunCursor } from "./cursor";
import { issueText, parseQuery, readJsonBody } from "./query";
import { bulkReplayBody, deadLettersListQuery } from "./schemas";

const view = (r: StoredDeadLetter) => ({
  id: r.id,
  source: r.source,
  runId: r.run_id,
  functionId: r.function_id,
  eventId: r.event_id,
  stepKey: r.step_key,
  attempts: r.attempts,
  error: {
    name: r.error_name,
    message: r.error_message,
    ...(r.error_code ? { code: r.error_code } : {}),
    ...(r.error_stack !== null ? { stack: r.error_stack } : {}),
  },
  failedAt: new Date(r.failed_at).toISOString(),
  ...(r.replayed_at !== null ? { replayedAt: new Date(r.replayed_at).toISOString() } : {}),
  replayCount: r.replay_count,
  ...(r.body !== null ? { body: JSON.parse(r.body) } : {}),
});

export const deadLettersApi = new Hono<{ Bindings: Env }>()
  .get("/", async (c) => {
    const q = parseQuery(deadLettersListQuery, c.req.queries());
    const page = await listDeadLetters(c.env.DB, q, q.cursor === undefined ? undefined : decodeCursor(q.cursor), q.limit);
    return c.json({ deadLetters: page.rows.map(view), nextCursor: page.next && encodeCursor(page.next) });
  })
  .post("/replay", async (c) => {
    const raw = await readJsonBody(c.req.raw);
    const parsed = bulkReplayBody.safeParse(raw);
    if (!parsed.success) {
      throw new HttpError(400, "invalid_request", issueText(parsed.error.issues[0], "body", "not a field of this request"));
    }
    const { limit, cursor } = parsed.data;
    const rows = await replayCandidates(c.env.DB, parsed.data, cursor === undefined ? undefined : decodeRunCursor(cursor), limit + 1);
    const chosen = rows.slice(0, limit);
    const targets = chosen.map((r) => ({ runId: r.runId, ...(r.failure ? { failure: r.failure, letters: r.letters } : {}) }));
    const outcomes = await replayRuns(c.env, targets, parsed.data.from);
    const replayed = outcomes.filter((o) => o.type === "replayed").map((o) => o.runId);
    return c.json({
      replayed: replayed.length,
      skipped: outcomes.filter((o) => o.type === "not-failed" || o.type === "not-found" || o.type === "superseded").length,
      remaining: rows.length > limit,
      // Past the runs this call chose, whatever became of them: runs that stay unreplayed (not found, or
      // their object threw) would otherwise be chosen first again by every call and could crowd out the rest.
      nextCursor: rows.length > limit ? encodeRunCursor(chosen[chosen.length - 1]!.runId) : null,
      runIds: replayed,
      failed: outcomes.flatMap((o) => (o.type === "error" ? [{ runId: o.runId, message: o.message }] : [])),
    });
  });
