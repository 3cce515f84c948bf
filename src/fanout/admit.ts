import type { StepflareFunction } from "../../sdk/internal";
import type { Env } from "../env";
import { flowKey } from "../flow/keys";
import { compiledFlow } from "../flow/needs";
import { type FlowKind, flowObjectName } from "../flow/object";
import { skippedRow, startedRow } from "../flow/start";
import type { ListingRow } from "../listing/rows";
import { isRemote } from "../remote/registry";
import type { StartRun } from "../run/rpc";
import { joinsBatch } from "./batch-if";
import { SlotReservations } from "./slots";

/** Why flow control skipped a function's run for an event: the listing row's error code. */
export type SkipReason = "function_paused" | "idempotency_duplicate" | "rate_limited" | "singleton_skipped";

/**
 * Starts the function's run for an event unless flow control says otherwise,
 * in this order: a pause, `idempotency`, `rateLimit`, then `debounce` or
 * `batchEvents` (which hold the event and start the run later, from their
 * object; an event the batch's `if` refuses starts at once) or `singleton`
 * (whose object starts it). Answers the run's listing row (a skipped one
 * too), or null when the event is held. Every decision is kept by run id,
 * so a redelivered event gets the same answer. A run under a concurrency
 * limit may start holding a slot the delivery took (`slots`).
 */
export async function admitRun(
  env: Env,
  fn: StepflareFunction,
  init: StartRun & { acceptedAt: number },
  paused: boolean,
  slots?: SlotReservations,
): Promise<ListingRow | null> {
  const c = fn.config;
  const functionId = c.id;
  // A remote function's config and target go with each call: the flow objects know only the engine's own functions.
  const remote = isRemote(fn) ? { config: c, target: fn.remote } : undefined;
  const skip = (code: SkipReason) => skippedRow(init.runId, functionId, init.event.id, code, Date.now());
  if (paused) return skip("function_paused");
  const flow = (kind: FlowKind, option: Parameters<typeof flowKey>[1]) =>
    env.FLOW.get(env.FLOW.idFromName(flowObjectName(kind, functionId, flowKey(fn, option, init.event))));
  if (c.idempotency && !(await flow("idempotency", "idempotency").idempotency(functionId, init.runId, remote))) {
    return skip("idempotency_duplicate");
  }
  if (c.rateLimit && !(await flow("rate-limit", "rateLimit").rateLimit(functionId, init.runId, remote))) return skip("rate_limited");
  if (c.debounce) {
    await flow("debounce", "debounce").debounce(functionId, init.runId, init.event, init.acceptedAt, remote);
    return null;
  }
  if (c.batchEvents && joinsBatch(fn, init.event)) {
    await flow("batch", "batchEvents").batch(functionId, init.runId, init.event, init.acceptedAt, remote);
    return null;
  }
  if (c.singleton) {
    const answer = await flow("singleton", "singleton").singleton(init, remote);
    return answer.type === "skipped" ? skip("singleton_skipped") : startedRow(init, answer.run);
  }
  if (!slots || !compiledFlow(fn)) return startedRow(init, await env.RUNS.get(env.RUNS.idFromName(init.runId)).start(init));
  const need = SlotReservations.need(fn, init.event);
  const held = need !== null && (await slots.take(need.name, need.limit, init.runId, need.ord));
  const run = await env.RUNS.get(env.RUNS.idFromName(init.runId)).start({
    ...init,
    ...(held ? { slots: [need.name] } : {}),
    releasesBack: true,
  });
  if (run.releases) slots.giveBack(init.runId, run.releases);
  return startedRow(init, run);
}
