import { app } from "../client";
import { llm, storage } from "../providers";

/**
 * `document/uploaded` starts three analyses. Each fetches the content in a
 * step of its own, so a retry of one analysis never refetches for the others.
 */
export const summarizeContent = app.createFunction(
  { id: "summarize-content", triggers: [{ event: "document/uploaded" }] },
  async ({ event, step }) => {
    const doc = await step.run("fetch-content", () => storage.getContent(event.data.documentId));
    return step.run("generate-summary", () => ({ documentId: doc.documentId, summary: llm.summarize(doc.text) }));
  },
);

export const classifyDocument = app.createFunction(
  { id: "classify-document", triggers: [{ event: "document/uploaded" }] },
  async ({ event, step }) => {
    const doc = await step.run("fetch-content", () => storage.getContent(event.data.documentId));
    return step.run("classify", () => ({ documentId: doc.documentId, category: llm.classify(doc.text) }));
  },
);

export const extractEntities = app.createFunction(
  { id: "extract-entities", triggers: [{ event: "document/uploaded" }] },
  async ({ event, step }) => {
    const doc = await step.run("fetch-content", () => storage.getContent(event.data.documentId));
    return step.run("extract", () => ({ documentId: doc.documentId, entities: llm.extractEntities(doc.text) }));
  },
);
