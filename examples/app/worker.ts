import { createEngine } from "../../src";
import { app } from "./client";
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

export default engine.worker;
export const { StepflareRun, StepflareSweeper } = engine;
