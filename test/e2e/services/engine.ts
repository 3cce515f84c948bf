import { Stepflare } from "stepflare";
import { createEngine, type Env } from "stepflare/engine";
import { z } from "zod";

const app = new Stepflare({
  id: "services-e2e",
  schemas: {
    "e2e/services.order": z.object({ tag: z.string(), amount: z.number() }),
    "e2e/services.shipped": z.object({ tag: z.string() }),
  },
});

/** The engine's own function for the event the billing Worker's function takes too. */
const confirm = app.createFunction({ id: "services-confirm", triggers: [{ event: "e2e/services.order" }] }, async ({ event, step }) =>
  step.run("confirm", () => ({ confirmed: event.data.tag })),
);

/** Runs for each event the billing Worker's step.sendEvent sends. */
const shipped = app.createFunction({ id: "services-shipped", triggers: [{ event: "e2e/services.shipped" }] }, async ({ event }) => ({
  shipped: event.data.tag,
}));

// MISSING is listed but has no [[services]] entry in engine.toml: syncing it answers service_binding_missing.
const engine = createEngine({
  functions: [confirm, shipped],
  schemas: app.schemas,
  services: ["BILLING", "LEDGER", "STRANGER", "MISSING"],
  backoff: { baseMs: 200, maxMs: 1_000 },
});

export default engine.worker satisfies ExportedHandler<Env>;
export const { StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents } = engine;
