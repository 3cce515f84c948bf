import { app } from "./app";
import { count, type TagData } from "./calls";

/* Cancellation, finish timeouts and the system events that follow endings. */

/** Sleeps for as long as the test says, unless its finish timeout of 1 s cancels it first. */
export const finishesLate = app.createFunction(
  { id: "finishes-late", triggers: [{ event: "test/finishes-late" }], timeouts: { finish: "1s" } },
  async ({ event, step }) => {
    const d = event.data as TagData & { sleep: string };
    await step.sleep("long", d.sleep);
    return "finished";
  },
);

/** Counts each system event by the tag of the event that started the run it is about. */
export const systemWatcher = app.createFunction(
  { id: "system-watcher", triggers: [{ event: "stepflare/function.failed" }, { event: "stepflare/function.cancelled" }] },
  async ({ event }) => {
    const d = event.data as { function_id: string; run_id: string; error: { code?: string }; event: { data: TagData } };
    const tag = d.event?.data?.tag;
    if (typeof tag === "string") count(tag, `${event.name}:${d.function_id}:${d.error.code ?? ""}`);
    return d.run_id;
  },
);

/** Cancelled by `test/order.cancelled` with the same order id, or by `test/all.cancelled` whose `if` names its tag. */
export const cancellable = app.createFunction(
  {
    id: "cancellable",
    triggers: [{ event: "test/cancellable" }],
    cancelOn: [
      { event: "test/order.cancelled", match: "data.orderId" },
      { event: "test/all.cancelled", if: "async.data.tag == event.data.tag" },
    ],
  },
  async ({ step }) => {
    await step.sleep("long", "1h");
    return "finished";
  },
);

/** Subscribed to function.failed, and fails itself: it must not start itself again. */
export const failingWatcher = app.createFunction(
  { id: "failing-watcher", triggers: [{ event: "stepflare/function.failed" }], retries: 0 },
  async ({ event }) => {
    const d = event.data as { function_id: string; event: { data: TagData } };
    const tag = d.event?.data?.tag;
    if (typeof tag === "string") count(tag, `failing-watcher:${d.function_id}`);
    throw new Error("the watcher fails too");
  },
);
