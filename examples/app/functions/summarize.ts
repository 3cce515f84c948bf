import { app } from "../client";
import { llm } from "../providers";

/** Cuts a text into pieces of at most `size` characters. Pure, so it runs in the handler, outside any step. */
export function splitIntoChunks(text: string, size: number): string[] {
  const chunks: string[] = [];
  for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
  return chunks;
}

/** `app/text.summarize`: summarize every chunk in parallel, then summarize the summaries. */
export const summarizeText = app.createFunction(
  { id: "summarize-text", triggers: [{ event: "app/text.summarize" }] },
  async ({ event, step }) => {
    const chunks = splitIntoChunks(event.data.text, event.data.chunkSize);
    const summaries = await Promise.all(chunks.map((chunk, i) => step.run(`summarize-chunk-${i}`, () => llm.summarize(chunk))));
    const summary = await step.run("summarize-summaries", () => llm.summarize(summaries.join(" ")));
    return { chunks: chunks.length, summaries, summary };
  },
);
