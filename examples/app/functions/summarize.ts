import { app } from "../client";
import { summarize } from "../providers";

/** `app/text.summarize`: split, summarize every chunk in parallel, then summarize the summaries. */
export const summarizeText = app.createFunction(
  { id: "summarize-text", triggers: [{ event: "app/text.summarize" }] },
  async ({ event, step }) => {
    const chunks = await step.run("split", () => {
      const size = event.data.chunkSize ?? 200;
      const out: string[] = [];
      for (let i = 0; i < event.data.text.length; i += size) out.push(event.data.text.slice(i, i + size));
      return out;
    });
    const summaries = await Promise.all(chunks.map((chunk, i) => step.run(`summarize-chunk-${i}`, () => summarize(chunk))));
    const summary = await step.run("summarize-summaries", () => summarize(summaries.join(" ")));
    return { chunks: chunks.length, summaries, summary };
  },
);
