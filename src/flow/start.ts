import { pausedFunctions } from "../d1/pauses";
import type { Env } from "../env";
import { HELD_VERSION } from "../listing/rows";
import type { ListingMessage } from "../messages/listing";
import type { StartedRun, StartRun } from "../run/rpc";
import { sendListing } from "../shared/queue-shards";

/** How long a flow object remembers an event's answer, past any window it counts in: redeliveries come well within it. */
export const DECISION_KEEP_MS = 60 * 60 * 1000;

/** The listing row of a run as start() answered it. */
export const startedRow = (init: StartRun, run: StartedRun): ListingMessage => ({
  v: 1,
  id: init.runId,
  functionId: init.functionId,
  eventId: init.event.id,
  status: run.status,
  startedAt: run.startedAt,
  endedAt: run.endedAt,
  errorCode: run.errorCode,
  version: run.version,
});

/**
 * The listing row of a run flow control skipped (`code` says why): ended as
 * it is listed, at version 0, so that a run started under the same id after
 * all (a redelivery decided anew) replaces it.
 */
export const skippedRow = (runId: string, functionId: string, eventId: string, code: string, now: number): ListingMessage => ({
  v: 1,
  id: runId,
  functionId,
  eventId,
  status: "skipped",
  startedAt: now,
  endedAt: now,
  errorCode: code,
  version: 0,
});

/**
 * The listing row of a run a flow object holds back (a debounce's pending
 * run, a batch's open one): listed as queued from when it was held, with
 * what holds it as `errorCode`, below any other row of its id.
 */
export const heldRow = (runId: string, functionId: string, eventId: string, by: "debounce" | "batch", now: number): ListingMessage => ({
  v: 1,
  id: runId,
  functionId,
  eventId,
  status: "queued",
  startedAt: now,
  endedAt: null,
  errorCode: by,
  version: HELD_VERSION,
});

/**
 * Starts a run a flow object held back (debounce, batch) and sends its
 * listing row, as the fan-out would have written it; answers null, and lists
 * it skipped, if its function was paused meanwhile. Idempotent, so a failure
 * is retried whole.
 */
export async function startHeldRun(env: Env, init: StartRun): Promise<StartedRun | null> {
  // Paused while its run was held: the run starts nothing and is listed skipped, as an event of a paused function is.
  if ((await pausedFunctions(env.DB)).has(init.functionId)) {
    await sendListing(env, [skippedRow(init.runId, init.functionId, init.event.id, "function_paused", Date.now())]);
    return null;
  }
  const run = await env.RUNS.get(env.RUNS.idFromName(init.runId)).start(init);
  await sendListing(env, [startedRow(init, run)]);
  return run;
}
