import { NonRetriableError } from "../../../sdk";
import { app } from "./app";
import { count, type TagData } from "./calls";

/* Invoking another function as a child run: step.invoke. */

/** Doubles `n` in a step; fails for good when `fail` is set; takes `delayMs` first. */
export const doubler = app.createFunction({ id: "doubler", triggers: [{ event: "test/doubler" }], retries: 0 }, async ({ event, step }) => {
  const d = event.data as TagData & { n: number; fail?: boolean; delayMs?: number };
  count(d.tag, "doubler");
  if (d.delayMs) await step.sleep("wait", d.delayMs);
  return step.run("double", () => {
    if (d.fail) throw new NonRetriableError("cannot double");
    return d.n * 2;
  });
});

/** Invokes the doubler (by reference, or by id when `byId`), then adds one in a step. */
export const invoker = app.createFunction({ id: "invoker", triggers: [{ event: "test/invoker" }], retries: 0 }, async ({ event, step }) => {
  const d = event.data as TagData & { n: number; fail?: boolean; delayMs?: number; timeout?: string; byId?: boolean };
  const doubled = await step.invoke<number>("double-it", {
    function: d.byId ? "doubler" : doubler,
    data: { tag: d.tag, n: d.n, fail: d.fail, delayMs: d.delayMs },
    ...(d.timeout ? { timeout: d.timeout } : {}),
  });
  return step.run("plus-one", () => doubled + 1);
});

/** Invokes a function this engine does not have. */
export const invokesNothing = app.createFunction(
  { id: "invokes-nothing", triggers: [{ event: "test/invokes-nothing" }] },
  async ({ step }) => step.invoke("nothing", { function: "no-such-function", data: {} }),
);
