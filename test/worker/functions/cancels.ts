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
