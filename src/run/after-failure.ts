import type { StepflareFunction } from "../../sdk/internal";
import { failureLetter, hasDeadLetter, insertDeadLetters } from "../d1/dead-letters";
import type { Env } from "../env";
import type { FailureMessage } from "../messages/failures";
import { runLogger } from "./logger";
import type { RunState } from "./types";

/**
 * What follows a run's failure, each called from its own timer so that an
 * eviction between the failure and the call loses neither.
 */

/** Sends the run's dead-letter record to the failures queue; answers whether it went. */
export async function sendDeadLetter(env: Env, letter: FailureMessage): Promise<boolean> {
  try {
    await env.FAILURES.send(letter, { contentType: "json" });
    return true;
  } catch (e) {
    console.error(`stepflare: run ${letter.runId}: dead letter send failed, will retry:`, (e as Error).message);
    return false;
  }
}

/**
 * Stores the run's dead-letter record in D1 unless it is there already (the
 * failures queue's consumer stored it): for a record the queue lost (held in
 * memory locally, or out of retries). Answers whether D1 has it now.
 */
export async function storeDeadLetter(env: Env, letter: FailureMessage): Promise<boolean> {
  try {
    if (!(await hasDeadLetter(env.DB, letter.id))) await insertDeadLetters(env.DB, [failureLetter(letter)]);
    return true;
  } catch (e) {
    console.error(`stepflare: run ${letter.runId}: storing its dead letter failed, will retry:`, (e as Error).message);
    return false;
  }
}

/** Calls the function's onFailure with the run's error and event; answers whether it returned without throwing. */
export async function callOnFailure(fn: StepflareFunction, run: RunState, eventJson: string, env: Env): Promise<boolean> {
  if (!fn.onFailure) return true;
  const error = run.error ?? { name: "Error", message: "run failed" };
  try {
    await fn.onFailure({
      event: JSON.parse(eventJson),
      env: env as unknown as Record<string, unknown>,
      runId: run.id,
      functionId: run.functionId,
      error: { name: error.name, message: error.message, ...(error.code ? { code: error.code } : {}) },
      logger: runLogger(run),
    });
    return true;
  } catch (e) {
    console.error(`stepflare: run ${run.id}: onFailure threw:`, (e as Error).message);
    return false;
  }
}
