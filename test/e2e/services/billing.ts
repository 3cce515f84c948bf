import { NonRetriableError, Stepflare, serve } from "stepflare";
import { z } from "zod";

const app = new Stepflare({
  id: "billing",
  schemas: {
    "e2e/services.order": z.object({ tag: z.string(), amount: z.number() }),
    "e2e/services.refund": z.object({ tag: z.string() }),
    "e2e/services.dispute": z.object({ tag: z.string() }),
    "e2e/services.invoice": z.object({ tag: z.string() }),
    "e2e/services.ship": z.object({ tag: z.string(), decline: z.boolean().optional() }),
    "e2e/services.shipped": z.object({ tag: z.string() }),
    "e2e/services.hold": z.object({ tag: z.string() }),
    "e2e/services.release": z.object({ tag: z.string() }),
  },
});

/** How many times each step's function ran in this Worker, and how often the engine called the handler. */
const executions: Record<string, number> = {};
const count = (name: string) => {
  executions[name] = (executions[name] ?? 0) + 1;
};

/** Two sequential steps, then two in parallel: each must run once however often the engine calls. */
const charge = app.createFunction(
  { id: "billing-charge", triggers: [{ event: "e2e/services.order" }], retries: 2 },
  async ({ event, step }) => {
    count(`handler:${event.data.tag}`);
    const reserved = await step.run("reserve", () => {
      count(`reserve:${event.data.tag}`);
      return { amount: event.data.amount };
    });
    const charged = await step.run("charge", () => {
      count(`charge:${event.data.tag}`);
      return { paid: reserved.amount * 2 };
    });
    const [receipt, ledger] = await Promise.all([
      step.run("receipt", () => {
        count(`receipt:${event.data.tag}`);
        return `receipt-${charged.paid}`;
      }),
      step.run("ledger", () => {
        count(`ledger:${event.data.tag}`);
        return `ledger-${charged.paid}`;
      }),
    ]);
    const mine = Object.entries(executions).filter(([k]) => k.endsWith(`:${event.data.tag}`));
    return { reserved, charged, receipt, ledger, executions: Object.fromEntries(mine.map(([k, n]) => [k.split(":")[0], n])) };
  },
);

/** A step that fails once and is retried, a sleep, and a wait for another event matched on the tag. */
const refund = app.createFunction(
  { id: "billing-refund", triggers: [{ event: "e2e/services.refund" }], retries: 2 },
  async ({ event, step }) => {
    const tag = event.data.tag;
    const attempt = await step.run("flaky", ({ attempt }) => {
      count(`flaky:${tag}`);
      if (attempt === 0) throw new Error("the first attempt fails");
      return attempt;
    });
    await step.sleep("cool-off", "1s");
    const approval = await step.waitForEvent("approval", { event: "e2e/services.approved", match: "data.tag", timeout: "2m" });
    return { attempt, approved: approval?.data.ok ?? null, flaky: executions[`flaky:${tag}`] };
  },
);

/** Its second step fails, not retried, the first time it runs for a tag, and succeeds after: a replay completes it. */
const dispute = app.createFunction({ id: "billing-dispute", triggers: [{ event: "e2e/services.dispute" }] }, async ({ event, step }) => {
  const tag = event.data.tag;
  await step.run("open", () => count(`open:${tag}`));
  const verdict = await step.run("decide", () => {
    count(`decide:${tag}`);
    if (executions[`decide:${tag}`] === 1) throw new NonRetriableError("no verdict yet");
    return "refunded";
  });
  return { verdict, open: executions[`open:${tag}`], decide: executions[`decide:${tag}`] };
});

/** Invokes a function of the engine's own and one of this Worker's, in parallel, and answers their outputs. */
const invoice = app.createFunction({ id: "billing-invoice", triggers: [{ event: "e2e/services.invoice" }] }, async ({ event, step }) => {
  const data = { tag: event.data.tag, amount: 5 };
  const [confirmed, charged] = await Promise.all([
    step.invoke("confirm", { function: "services-confirm", data, timeout: "1m" }),
    step.invoke("charge", { function: "billing-charge", data, timeout: "1m" }),
  ]);
  return { ...(confirmed as object), charged: (charged as { charged: unknown }).charged };
});

/**
 * No retries of its own, but a step with two: it succeeds on its third attempt. Then two events sent from a
 * step, which the engine accepts and fans out; and, when asked, a final error with a code the run keeps,
 * which its onFailure handler sees.
 */
const ship = app.createFunction(
  {
    id: "billing-ship",
    triggers: [{ event: "e2e/services.ship" }],
    retries: 0,
    // Served as billing-ship-failure: the engine runs it, here, when a run of billing-ship fails.
    onFailure: async ({ event, error, functionId }) => ({ refunded: event.data.tag, code: error.code, functionId }),
  },
  async ({ event, step }) => {
    const tag = event.data.tag;
    const courier = await step.run({ id: "courier", retries: 2 }, ({ attempt }) => {
      count(`courier:${tag}`);
      if (attempt < 2) throw new Error(`the courier is busy (attempt ${attempt})`);
      return attempt;
    });
    const sent = await step.sendEvent("shipped", [
      { name: "e2e/services.shipped", data: { tag } },
      { name: "e2e/services.shipped", data: { tag: `${tag}-copy` } },
    ]);
    if (event.data.decline) throw new NonRetriableError("the card was declined", { code: "card_declined" });
    return { courier, courierRuns: executions[`courier:${tag}`], sent };
  },
);

/** Synced with its options, which the engine applies: one run per tag, cancelled by a release of the same tag. */
const hold = app.createFunction(
  {
    id: "billing-hold",
    triggers: [{ event: "e2e/services.hold" }],
    idempotency: "event.data.tag",
    cancelOn: [{ event: "e2e/services.release", match: "data.tag" }],
  },
  async ({ step }) => {
    await step.sleep("held", "2m");
    return "never released";
  },
);

export default { fetch: serve({ client: app, functions: [charge, refund, dispute, invoice, ship, hold] }) } satisfies ExportedHandler;
