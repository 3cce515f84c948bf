import { describe, expect, it } from "vitest";
import { z } from "zod";
import { parseEvents } from "./parse-events";

describe("parseEvents", () => {
  it("keeps data exactly as sent when a schema validates it: no keys stripped, no transforms applied", () => {
    const schemas = {
      "a/strict": z.object({ n: z.number() }),
      "a/transform": z.object({ email: z.string().transform((s) => s.toLowerCase()), n: z.coerce.number().default(0) }),
    };
    const body = JSON.stringify([
      { name: "a/strict", data: { n: 1, extra: { nested: true } } },
      { name: "a/transform", data: { email: "Ada@Example.COM" } },
    ]);
    const [strict, transformed] = parseEvents(body, 10, schemas);
    expect(strict!.data).toEqual({ n: 1, extra: { nested: true } });
    expect(transformed!.data).toEqual({ email: "Ada@Example.COM" });
    expect(() => parseEvents(JSON.stringify({ name: "a/strict", data: { n: "1" } }), 10, schemas)).toThrow(/^event 0: data\.n/);
  });
});
