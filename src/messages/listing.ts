import { z } from "zod";

/**
 * A run's listing row, as its object last knew it: a message on the listing
 * queue. `version` orders them, so a late or repeated one never moves the
 * listing backwards.
 */
export const listingMessageSchema = z
  .object({
    v: z.literal(1),
    id: z.string(),
    functionId: z.string(),
    eventId: z.string(),
    status: z.enum(["queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled", "skipped"]),
    startedAt: z.number(),
    endedAt: z.number().nullable(),
    errorCode: z.string().nullable(),
    /** From -1, a held run's (HELD_VERSION in src/listing/rows.ts). */
    version: z.number().int().min(-1),
  })
  .strict();
export type ListingMessage = z.infer<typeof listingMessageSchema>;
