import { runFunction } from "stepflare/testing";
import { describe, expect, it } from "vitest";
import { summarizeText } from "./summarize";

const event = { name: "app/text.summarize", data: { text: "One. Two. Three and four. Five.", chunkSize: 10 } };

describe("summarize-text", () => {
  it("summarizes every chunk in parallel, then the summaries", async () => {
    const { output, error, steps } = await runFunction(summarizeText, { event });
    expect(error).toBeUndefined();
    expect(steps.map((s) => s.id)).toEqual([
      "summarize-chunk-0",
      "summarize-chunk-1",
      "summarize-chunk-2",
      "summarize-chunk-3",
      "summarize-summaries",
    ]);
    expect(output).toEqual({ chunks: 4, summaries: ["One.", "Three and ", "four.", "."], summary: "One." });
  });

  it("uses a mocked chunk's summary; the other steps run", async () => {
    const { output, steps } = await runFunction(summarizeText, {
      event,
      steps: [{ id: "summarize-chunk-1", handler: () => "MOCKED." }],
    });
    expect(steps.filter((s) => s.mocked).map((s) => s.id)).toEqual(["summarize-chunk-1"]);
    expect(output).toMatchObject({ summaries: ["One.", "MOCKED.", "four.", "."] });
  });

  it("fails the run when a chunk's summary fails, and summarizes nothing after it", async () => {
    const { output, error, steps } = await runFunction(summarizeText, {
      event,
      steps: [
        {
          id: "summarize-chunk-2",
          handler: () => {
            throw new Error("model overloaded");
          },
        },
      ],
    });
    expect(output).toBeUndefined();
    expect(error).toMatchObject({ message: "model overloaded" });
    expect(steps.find((s) => s.id === "summarize-chunk-2")).toMatchObject({ status: "failed" });
    expect(steps.map((s) => s.id)).not.toContain("summarize-summaries");
  });
});
