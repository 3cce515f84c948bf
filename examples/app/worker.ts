import { Hono } from "hono";
import { createEngine, type Env, requireApiKey } from "stepflare/engine";
import { app } from "./client";
import { crmFlagRoutes } from "./crm-flag";
import { classifyDocument, extractEntities, summarizeContent } from "./functions/documents";
import { postPayment } from "./functions/payments";
import { addToCrm, addToMailingList, sendWelcomeEmail, startStripeTrial } from "./functions/signup";
import { summarizeText } from "./functions/summarize";
import { inviteTeam, sendInvitation } from "./functions/team";
import { trialEndingNotice, trialReminder } from "./functions/trial";

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
    trialReminder,
    trialEndingNotice,
    inviteTeam,
    sendInvitation,
  ],
  schemas: app.schemas,
});

// The example's own routes first, behind the management API's key (open in dev
// mode, as /api/v1 is): a deployed example must not let anyone flip its switch.
// Everything else is the engine.
const http = new Hono<{ Bindings: Env }>()
  .use("/example/*", requireApiKey)
  .route("/example/crm", crmFlagRoutes)
  .all("*", (c) => engine.worker.fetch(c.req.raw, c.env, c.executionCtx as ExecutionContext));

export default { ...engine.worker, fetch: http.fetch } satisfies ExportedHandler<Env, unknown>;
export const { StepflareRun, StepflareSweeper, StepflareFlow, StepflareListing, StepflareEvents } = engine;
