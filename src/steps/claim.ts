import type { Env } from "../env";
import type { ClaimRequest } from "../run/rpc";

/** Waits between tries of one claim; after the last, its messages go back to the queue. */
const RETRY_DELAYS_MS = [50, 250, 1000];

/**
 * Claims steps from their run's object under a token of this call's own. A
 * try whose answer is lost (the RPC threw, and the object may have claimed)
 * is made again with the same token, which the object answers the same, so a
 * transient failure neither runs a step twice nor leaves it to wait out its
 * step timeout. Answers the object's answer with the token, which renews
 * the claims (steps/claim-keeper.ts). Throws the last error once the tries are spent.
 */
export async function claimSteps(env: Env, runId: string, planSeq: number, requests: ClaimRequest[]) {
  const token = crypto.randomUUID();
  for (let i = 0; ; i++) {
    try {
      // A fresh stub for each try: one that has thrown may stay broken.
      const context = await env.RUNS.get(env.RUNS.idFromName(runId)).claimSteps(planSeq, requests, token);
      return context && { ...context, token };
    } catch (e) {
      const delay = RETRY_DELAYS_MS[i];
      if (delay === undefined) throw e;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
