import type { StepflareFunction } from "../../sdk/internal";
import type { Env } from "../env";
import { compiledFlow, runNeeds } from "../flow/needs";
import { SLOT_WAIT_MS } from "../flow/object";
import type { RunStore } from "./store";
import { admitRun, askSlot, holdSlot, passThrottle, releaseRef, waitForSlot, waitForThrottle } from "./transitions";

/** What asking its limits came to for a queued run: admitted (running), still queued, or it left the queue meanwhile. */
export type Admission = "admitted" | "queued" | "gone";

const flowStub = (env: Env, name: string) => env.FLOW.get(env.FLOW.idFromName(name));

/**
 * Asks a queued run's limits, in order: its throttle (its first start only)
 * for a start time, then each concurrency limit for a slot, holding each
 * slot while asking the next. Every ask is idempotent, so asking again (the
 * `admit` timer, a slot offered) after a lost answer changes nothing.
 */
export async function askLimits(env: Env, store: RunStore, fn: StepflareFunction, event: unknown, firstTurn = false): Promise<Admission> {
  const run = store.run;
  const flow = run?.flow;
  if (run?.status !== "queued" || !flow) return "gone";
  const compiled = compiledFlow(fn);
  // The function no longer has flow control (a deploy dropped it): nothing holds the run back.
  const finishMs = fn.config.timeouts?.finish;
  if (!compiled) return admitRun(store, Date.now(), finishMs, firstTurn) ? "admitted" : "gone";
  const needs = runNeeds(fn, compiled, event);
  const ticket = flow.ticket;
  const stillQueued = () => store.run?.status === "queued" && flow.ticket === ticket;
  if (needs.throttle && !flow.throttled) {
    const { name, ...spec } = needs.throttle;
    const startAt = await flowStub(env, name).reserveStart(run.id, spec);
    if (!stillQueued()) return "gone";
    if (startAt > Date.now()) {
      waitForThrottle(store, startAt);
      return "queued";
    }
    passThrottle(store);
  }
  // Its order in each queue: when it queued, moved ahead by its priority.
  const ord = (flow.queuedAt ?? Date.now()) - needs.priority * 1000;
  // A run with `timeouts.start` waits for a slot in its ask a quarter of what it has left at most, so its timeout stays close.
  const startMs = fn.config.timeouts?.start;
  const waitMs = startMs === undefined ? SLOT_WAIT_MS : Math.max(0, (flow.queuedAt ?? Date.now()) + startMs - Date.now()) / 4;
  for (const [i, c] of needs.concurrency.entries()) {
    if (flow.held.includes(c.name)) continue;
    askSlot(store, c.name);
    const granted = await flowStub(env, c.name).acquireSlot(c.name, run.id, ticket, ord, c.limit, waitMs);
    if (!stillQueued()) return "gone";
    if (!granted) {
      waitForSlot(store, Date.now());
      return "queued";
    }
    // The last slot is written with the admission, in the same transaction.
    holdSlot(store, c.name, i < needs.concurrency.length - 1);
  }
  return admitRun(store, Date.now(), finishMs, firstTurn) ? "admitted" : "gone";
}

/** Lets go of a slot, or a place in a queue, named by a release's ref (`ticket name`). */
export async function releaseSlot(env: Env, runId: string, ref: string): Promise<void> {
  const { ticket, name } = releaseRef(ref);
  await flowStub(env, name).releaseSlot(name, runId, ticket);
}
