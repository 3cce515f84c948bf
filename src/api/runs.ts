import { Hono } from "hono";
import { wellFormedHead } from "../../sdk/internal";
import { replayRuns } from "../dlq/replay";
import type { Env } from "../env";
import type { ListedRun } from "../listing/rows";
import { listedRun, listRuns } from "../listing/store";
import { HttpError } from "../shared/http-error";
import { ULID_PATTERN } from "../shared/ulid";
import { cancelRuns } from "./cancellations";
import { decodeCursor, encodeCursor } from "./cursor";
import { heldRunDetail } from "./held-run";
import { issueText, parseQuery, readJsonBody } from "./query";
import { runReplayBody, runsListQuery } from "./schemas";

export const runSummary = (r: ListedRun) => ({
  id: r.id,
  functionId: r.function_id,
  eventId: r.event_id,
  status: r.status,
  startedAt: new Date(r.started_at).toISOString(),
  ...(r.ended_at !== null ? { endedAt: new Date(r.ended_at).toISOString() } : {}),
  ...(r.error_code ? { errorCode: r.error_code } : {}),
});

/** `/api/v1/runs`: the listing, run detail, replay and cancel. */
export const runsApi = () =>
  new Hono<{ Bindings: Env }>()
    .get("/", async (c) => {
      const q = parseQuery(runsListQuery, c.req.queries());
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      const page = await listRuns(c.env, {
        functionId: q.functionId,
        status: q.status,
        since: q.since,
        until: q.until,
        after,
        limit: q.limit,
      });
      return c.json({ runs: page.rows.map(runSummary), nextCursor: page.next && encodeCursor(page.next) });
    })
    .get("/:runId", async (c) => {
      const runId = c.req.param("runId");
      if (!ULID_PATTERN.test(runId)) throw runNotFound(runId);
      const stub = c.env.RUNS.get(c.env.RUNS.idFromName(runId));
      const detail = await stub.getDetailJson();
      if (!detail && (await stub.expired())) {
        throw new HttpError(404, "run_expired", `run ${runId} has expired: it ended longer ago than the runs' retention`);
      }
      if (detail) return new Response(detail, { headers: { "content-type": "application/json" } });
      const listed = await listedRun(c.env, runId);
      const held = listed && heldRunDetail(listed);
      if (!held) throw runNotFound(runId);
      return c.json(held);
    })
    .post("/:runId/replay", async (c) => {
      const runId = c.req.param("runId");
      if (!ULID_PATTERN.test(runId)) throw runNotFound(runId);
      const body = await readJsonBody(c.req.raw);
      const parsed = runReplayBody.safeParse(body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const message =
          issue?.code === "unrecognized_keys"
            ? issueText(issue, "body", "not a field of this request")
            : `from: must be "failed-step" or "start"`;
        throw new HttpError(400, "invalid_request", message);
      }
      const [outcome = { type: "not-found", runId }] = await replayRuns(c.env, [{ runId }], parsed.data.from);
      switch (outcome.type) {
        case "replayed":
          return c.json({ id: runId, status: outcome.status, replayed: true });
        case "not-failed":
          throw new HttpError(409, "run_not_failed", `run ${runId} is ${outcome.status}; only failed runs can be replayed`);
        case "superseded": // only a bulk replay names the failure to replay
          throw new HttpError(409, "run_not_failed", `run ${runId} has failed again since; replay it without naming a failure`);
        case "not-found":
          throw runNotFound(runId);
        case "error":
          throw new HttpError(503, "replay_failed", `run ${runId}: ${outcome.message}`);
      }
    })
    /** `POST /api/v1/runs/:runId/cancel`: idempotent for a cancelled run; 409 for one that completed or failed. */
    .post("/:runId/cancel", async (c) => {
      const runId = c.req.param("runId");
      if (!ULID_PATTERN.test(runId)) throw runNotFound(runId);
      const [outcome = { type: "not-found", runId }] = await cancelRuns(c.env, [runId]);
      switch (outcome.type) {
        case "cancelled":
          return c.json({ id: runId, status: "cancelled", cancelled: true });
        case "ended":
          if (outcome.status === "cancelled") return c.json({ id: runId, status: "cancelled", cancelled: false });
          throw new HttpError(409, "run_not_cancellable", `run ${runId} is ${outcome.status}; only a run still going can be cancelled`);
        case "not-found":
          throw runNotFound(runId);
        case "error":
          throw new HttpError(503, "cancel_failed", `run ${runId}: ${outcome.message}`);
      }
    });

function runNotFound(runId: string): HttpError {
  return new HttpError(404, "run_not_found", `no run with id ${JSON.stringify(wellFormedHead(runId, 64))}`);
}
