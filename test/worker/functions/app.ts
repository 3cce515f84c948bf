import { z } from "zod";
import { Stepflare } from "../../../sdk";

/** The client every test function is created from, with the schemas the ingest tests send against. */
export const app = new Stepflare({
  id: "tests",
  schemas: {
    "test/typed": z.object({ n: z.number().int() }),
    // Schemas whose output cannot be an event's data: a BigInt has no JSON form, a number is not an object.
    "test/bigint-out": z.object({ n: z.number().int() }).transform((d) => ({ n: BigInt(d.n) })),
    // The SDK's types refuse a non-object output; plain JavaScript, or a cast, gets one past them.
    "test/scalar-out": z.object({ n: z.number().int() }).transform((d) => d.n) as unknown as z.ZodType<Record<string, unknown>>,
    // An object whose JSON is not an object: a Date is written as its ISO string.
    "test/date-out": z.object({ n: z.number().int() }).transform((d) => new Date(d.n)) as unknown as z.ZodType<Record<string, unknown>>,
  },
});
