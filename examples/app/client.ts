import { Stepflare } from "stepflare";
import { z } from "zod";

/** The example app and its typed events. Events with a schema are validated at ingest. */
export const app = new Stepflare({
  id: "example-shop",
  schemas: {
    "app/user.signup": z.object({ userId: z.string(), email: z.string().email(), name: z.string().optional() }),
    "document/uploaded": z.object({ documentId: z.string(), text: z.string() }),
    "stripe/charge.created": z.object({ chargeId: z.string(), customerId: z.string(), amount: z.number().int().nonnegative() }),
    "app/text.summarize": z.object({ text: z.string().min(1), chunkSize: z.number().int().positive().max(10_000).default(200) }),
  },
});
