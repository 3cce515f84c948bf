import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseEvents } from "./parse-events";

describe("parseEvents with a schema", () => {
  it("answers the schema's output: defaults applied, unnamed keys dropped unless the schema keeps them", () => {
    const schemas = {
      "a/strict": z.object({ n: z.number().default(7) }),
      "a/loose": z.looseObject({ n: z.number() }),
    };
    const body = JSON.stringify([
      { name: "a/strict", data: { extra: true } },
      { name: "a/loose", data: { n: 1, extra: { nested: true } } },
    ]);
    const [strict, loose] = parseEvents(body, 10, schemas);
    expect(strict!.data).toEqual({ n: 7 });
    expect(loose!.data).toEqual({ n: 1, extra: { nested: true } });
    expect(() => parseEvents(JSON.stringify({ name: "a/loose", data: { n: "1" } }), 10, schemas)).toThrow(/^event 0: data\.n/);
  });
});
