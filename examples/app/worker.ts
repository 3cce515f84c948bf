import { Hono } from "hono";
import { createEngine, type Env } from "../../src";
import { app } from "./client";
import { crmFlagRoutes } from "./crm-flag";
import { classifyDocument, extractEntities, summarizeContent } from "./functions/documents";
import { postPayment } from "./functions/payments";
import { addToCrm, addToMailingList, sendWelcomeEmail, startStripeTrial } from "./functions/signup";
import { summarizeText } from "./functions/summarize";

const engine = createEngine({
  functions: [
    sendWelcomeEmail,
    startStripeTrial,
    addToCrm,
    addToMailingList,
    summarizeContent,
    classifyDocument,
    extractEntities,
    postPayment,
    summarizeText,
  ],
  schemas: app.schemas,
});

// The example's own routes first; everything else is the engine.
const http = new Hono<{ Bindings: Env }>()
  .route("/example/crm", crmFlagRoutes)
  .all("*", (c) => engine.worker.fetch(c.req.raw, c.env, c.executionCtx as ExecutionContext));

export default { ...engine.worker, fetch: http.fetch } satisfies ExportedHandler<Env, unknown>;
export const { StepflareRun, StepflareSweeper } = engine;
