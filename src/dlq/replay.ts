import { markReplays } from "../d1/dead-letters";
import type { Env } from "../env";
import type { ListingRow } from "../listing/rows";
import { writeListing } from "../listing/store";
import type { ReplayFrom } from "../run/object";
import type { RunStatus } from "../run/types";
import { eachLimited } from "../shared/each-limited";

/** A run to replay; with `failure` and `letters`, only for that failure, which those dead letters record. */
export interface ReplayTarget {
  runId: string;
  failure?: number;
  letters?: string[];
}

/**
 * What replaying one run came to. `replayed` marks the run's dead letters and
 * counts the replay; `not-failed` marks them only (the run was replayed since).
 */
export type ReplayOutcome =
  | { type: "replayed"; runId: string; status: RunStatus }
  | { type: "not-failed"; runId: string; status: RunStatus }
  | { type: "superseded"; runId: string; letters: string[] }
  | { type: "not-found"; runId: string }
  | { type: "error"; runId: string; message: string };

/** Said of a run whose object threw: the thrown text stays in the logs, since it may carry anything. */
export const REPLAY_ERROR_MESSAGE =
  "its run object failed to answer the replay; its dead letters stay unreplayed, so calling again retries it";

/**
 * Replays runs through their objects, a bounded number at a time, and marks
 * as replayed the dead letters they had when the call began: for the runs
 * that did replay, for those already replayed since (no longer failed), and,
 * for a run that has failed again since, the chosen letters it superseded; so
 * no later bulk call finds them again. An object only replays a run that is
 * failed, so overlapping or repeated replays never run anything twice; a run
 * that fails again while the call is still going has a new dead letter, which
 * stays unreplayed. One object throwing costs only its own run, answered as
 * an `error` outcome; the others go on.
 */
export async function replayRuns(env: Env, targets: ReplayTarget[], from: ReplayFrom, concurrency = 16): Promise<ReplayOutcome[]> {
  const began = Date.now();
  const outcomes: ReplayOutcome[] = [];
  const listing: ListingRow[] = [];
  await eachLimited(targets, concurrency, async (target) => {
    outcomes.push(await replayOne(env, target, from, listing));
  });
  const ids = (type: ReplayOutcome["type"]) => outcomes.filter((o) => o.type === type).map((o) => o.runId);
  const superseded = outcomes.flatMap((o) => (o.type === "superseded" ? o.letters : []));
  // The rows first: should the marks fail, a call again finds the runs replayed and marks their letters then.
  await writeListing(env, listing);
  const statements = markReplays(env.DB, { replayed: ids("replayed"), settled: ids("not-failed"), superseded }, began, Date.now());
  if (statements.length > 0) await env.DB.batch(statements);
  return outcomes;
}

/**
 * Replays one run through its object, and keeps the listing row the object
 * answered with. Written here, before the marks, the row of a replayed run says
 * running before the call answers, so the sweeper's walk of the runs listed
 * as running covers it: its object's own listing messages alone, if a local
 * restart lost them, would leave it listed as failed for good.
 */
async function replayOne(
  env: Env,
  { runId, failure, letters = [] }: ReplayTarget,
  from: ReplayFrom,
  listing: ListingRow[],
): Promise<ReplayOutcome> {
  try {
    const result = await env.RUNS.get(env.RUNS.idFromName(runId)).replay(from, failure);
    if (!result) return { type: "not-found", runId };
    listing.push(result.listing);
    if (result.superseded) return { type: "superseded", runId, letters };
    return { type: result.replayed ? "replayed" : "not-failed", runId, status: result.status };
  } catch (e) {
    console.error(`stepflare: replaying run ${runId} failed:`, e instanceof Error ? e.message : String(e));
    return { type: "error", runId, message: REPLAY_ERROR_MESSAGE };
  }
}
