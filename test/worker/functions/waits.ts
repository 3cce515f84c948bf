import { app } from "./app";
import { count, sleep, type TagData } from "./calls";

/* Waiting for events: step.waitForEvent with match, if, timeouts, and a wait that loses a race. */

/** Optionally prepares for `prepMs` first, then waits for the order's payment, matched on data.orderId. */
export const orderFlow = app.createFunction(
  { id: "order-flow", triggers: [{ event: "test/order.created" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData & { orderId: string; prepMs?: number; timeout?: string };
    if (d.prepMs) await step.run("prep", async () => (await sleep(d.prepMs ?? 0), "ready"));
    const paid = await step.waitForEvent("wait-payment", { event: "test/order.paid", match: "data.orderId", timeout: d.timeout ?? "10s" });
    count(d.tag, "resumed");
    return { paid: paid?.data ?? null };
  },
);

/** Two waits in a row for the same kind of event: one event resumes one of them. */
export const twoWaits = app.createFunction(
  { id: "two-waits", triggers: [{ event: "test/two-waits" }], retries: 0 },
  async ({ event, step }) => {
    const d = event.data as TagData;
    const first = await step.waitForEvent("first", { event: "test/ping", match: "data.tag", timeout: "10s" });
    const second = await step.waitForEvent("second", { event: "test/ping", match: "data.tag", timeout: "10s" });
    return [first?.data.n ?? null, second?.data.n ?? null, d.tag];
  },
);

/** Waits for a deposit of at least the trigger's `min`, by a CEL `if` over `event` and `async`. */
export const depositWait = app.createFunction(
  { id: "deposit-wait", triggers: [{ event: "test/deposit.expected" }], retries: 0 },
  async ({ step }) => {
    const deposit = await step.waitForEvent("deposit", {
      event: "test/deposit",
      if: "async.data.account == event.data.account && async.data.amount >= event.data.min",
      timeout: "10s",
    });
    return deposit?.data.amount ?? null;
  },
);

/** A wait of an hour against a short sleep: the sleep wins and the run ends. */
export const waitRace = app.createFunction({ id: "wait-race", triggers: [{ event: "test/wait-race" }] }, async ({ step }) =>
  Promise.race([
    step.waitForEvent("never", { event: "test/never", match: "data.tag", timeout: "1h" }).then(() => "event"),
    step.sleep("short", "300ms").then(() => "slept"),
  ]),
);

/** A wait given options the SDK refuses. */
export const badWait = app.createFunction({ id: "bad-wait", triggers: [{ event: "test/bad-wait" }] }, async ({ event, step }) =>
  step.waitForEvent("bad", (event.data as { options: never }).options),
);
