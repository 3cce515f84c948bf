import { app } from "../client";
import { storage, summarize } from "../providers";

/** `document/uploaded` starts three analyses, each fetching the content then doing its own step. */
export const summarizeContent = app.createFunction(
  { id: "summarize-content", triggers: [{ event: "document/uploaded" }] },
  async ({ event, step }) => {
    const doc = await step.run("fetch-content", () => storage.fetchContent(event.data.documentId, event.data.text));
    return step.run("summarize", () => ({ documentId: doc.documentId, summary: summarize(doc.text) }));
  },
);

export const classifyDocument = app.createFunction(
  { id: "classify-document", triggers: [{ event: "document/uploaded" }] },
  async ({ event, step }) => {
    const doc = await step.run("fetch-content", () => storage.fetchContent(event.data.documentId, event.data.text));
    return step.run("classify", () => ({
      documentId: doc.documentId,
      category: /invoice|payment|amount due/i.test(doc.text) ? "invoice" : /contract|agreement/i.test(doc.text) ? "contract" : "general",
    }));
  },
);

export const extractEntities = app.createFunction(
  { id: "extract-entities", triggers: [{ event: "document/uploaded" }] },
  async ({ event, step }) => {
    const doc = await step.run("fetch-content", () => storage.fetchContent(event.data.documentId, event.data.text));
    return step.run("extract", () => ({
      documentId: doc.documentId,
      entities: [...new Set(doc.text.match(/\b[A-Z][a-z]+(?:\s[A-Z][a-z]+)*\b/g) ?? [])],
    }));
  },
);
