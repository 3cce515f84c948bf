import { compileExpression, type Predicate, type StepflareFunction } from "../../sdk/internal";

/** Each function's compiled `batchEvents.if`, once per engine (a config is frozen, so it can key the cache). */
const compiled = new WeakMap<StepflareFunction, Predicate | null>();

/**
 * Whether an event joins the function's batch: always, without `if`; else
 * only when `if` is true for it. Another event starts a run of its own at
 * once, with `events` of one, as Inngest runs an event its batch's `if` refuses.
 */
export function joinsBatch(fn: StepflareFunction, event: unknown): boolean {
  let test = compiled.get(fn);
  if (test === undefined) {
    const text = fn.config.batchEvents?.if;
    test = text === undefined ? null : compileExpression(text, "batchEvents.if");
    compiled.set(fn, test);
  }
  return test === null || test({ event });
}
