import { Hono } from "hono";
import { compileExpression } from "../../sdk/internal";
import type { Env } from "../env";
import type { ListingRow } from "../listing/rows";
import { listCancellable, writeListing } from "../listing/store";
import type { RunStatus } from "../run/types";
import { eachLimited } from "../shared/each-limited";
import { HttpError } from "../shared/http-error";
import { decodeRunCursor, encodeRunCursor } from "./cursor";
import { issueText, readJsonBody } from "./query";
import { BULK_CANCEL_MAX, cancellationsBody } from "./schemas";

/** What cancelling one run came to. */
export type CancelOutcome =
  | { type: "cancelled" | "ended" | "unmatched"; runId: string; status: RunStatus }
  | { type: "not-found"; runId: string }
  | { type: "error"; runId: string; message: string };

/**
 * Cancels runs through their objects, a few at a time, and writes the
 * listing rows they answer with, so the listing says cancelled at once
 * (the objects' own listing messages may be lost with a local queue).
 */
export async function cancelRuns(env: Env, runIds: string[], onlyIf?: string, concurrency = 16): Promise<CancelOutcome[]> {
  const outcomes: CancelOutcome[] = [];
  const listing: ListingRow[] = [];
  await eachLimited(runIds, concurrency, async (runId) => {
    try {
      const answer = await env.RUNS.get(env.RUNS.idFromName(runId)).cancel(onlyIf);
      if (!answer) return void outcomes.push({ type: "not-found", runId });
      listing.push(answer.listing);
      const type = answer.cancelled ? "cancelled" : answer.matched === false ? "unmatched" : "ended";
      outcomes.push({ type, runId, status: answer.status });
    } catch (e) {
      console.error(`stepflare: cancelling run ${runId} failed:`, e instanceof Error ? e.message : String(e));
      outcomes.push({ type: "error", runId, message: "its run object failed to answer; calling again retries it" });
    }
  });
  await writeListing(env, listing).catch((e: Error) =>
    console.error("stepflare: writing cancelled runs' listing rows failed; their objects send them again:", e.message),
  );
  return outcomes;
}

/**
 * `POST /api/v1/cancellations`: cancels every run of a function that is
 * still going and started within the window, up to BULK_CANCEL_MAX a call;
 * `remaining` says to call again.
 */
export const cancellationsApi = new Hono<{ Bindings: Env }>().post("/", async (c) => {
  const parsed = cancellationsBody.safeParse(await readJsonBody(c.req.raw));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new HttpError(400, "invalid_request", issue ? issueText(issue, "body", issue.message) : "invalid body");
  }
  const { functionId, startedAfter, startedBefore, if: onlyIf, cursor } = parsed.data;
  if (onlyIf !== undefined) {
    try {
      compileExpression(onlyIf, "if");
    } catch (e) {
      throw new HttpError(400, "invalid_expression", (e as Error).message);
    }
  }
  const afterId = cursor === undefined ? undefined : decodeRunCursor(cursor);
  const ids = await listCancellable(c.env, { functionId, startedAfter, startedBefore, afterId, limit: BULK_CANCEL_MAX + 1 });
  const chosen = ids.slice(0, BULK_CANCEL_MAX);
  const outcomes = await cancelRuns(c.env, chosen, onlyIf);
  const remaining = ids.length > BULK_CANCEL_MAX;
  return c.json({
    cancelled: outcomes.filter((o) => o.type === "cancelled").length,
    failed: outcomes.flatMap((o) => (o.type === "error" ? [{ runId: o.runId, message: o.message }] : [])),
    remaining,
    // Past the runs this call chose, whatever became of them: runs the `if` left out, or whose object failed, are not chosen again.
    nextCursor: remaining ? encodeRunCursor(chosen.at(-1)!) : null,
  });
});
