import { z } from "zod";
import { plainObject } from "../../sdk/internal";

/** An event as stored and handed to runs: the payload with its settled id and ts. */
export const storedEventSchema = z.object({
  id: z.string(),
  name: z.string(),
  data: plainObject,
  ts: z.number(),
  user: plainObject.optional(),
  v: z.string().optional(),
});
export type StoredEvent = z.infer<typeof storedEventSchema>;

/**
 * A message on the events queue. The event rides inline when small; a large
 * one is read back by reference, keeping every message far below the 128 KB
 * queue limit: from R2 when `bodyKey` names its object (the queue path), else
 * from its event shard by id and acceptance. An event with `stored: false`
 * may not be stored yet.
 */
export const eventMessageSchema = z
  .object({
    v: z.literal(1),
    id: z.string(),
    acceptedAt: z.number(),
    event: storedEventSchema.optional(),
    /** The EVENT_BODIES object holding the event's JSON, until the consumer has stored it. */
    bodyKey: z.string().min(1).optional(),
    /** False when the event came by the queue alone: the consumer stores it (and checks its id) before fanning it out. */
    stored: z.literal(false).optional(),
  })
  .strict();
export type EventMessage = z.infer<typeof eventMessageSchema>;

/**
 * Several events of one request that came by the queue alone, in one
 * message: a request of 100 small events takes about ten messages, not 100.
 * Acknowledged once every event in it is fanned out.
 */
export const packedEventsMessageSchema = z
  .object({
    v: z.literal(1),
    acceptedAt: z.number(),
    events: z.array(storedEventSchema).min(1),
    stored: z.literal(false),
  })
  .strict();
export type PackedEventsMessage = z.infer<typeof packedEventsMessageSchema>;

/** Either form a message on the events queue takes. */
export const eventsQueueMessageSchema = z.union([eventMessageSchema, packedEventsMessageSchema]);

export const INLINE_EVENT_MAX_BYTES = 64 * 1024;

/** A packed message holds at most this many events, and this many bytes of them, below the 128 KB message limit. */
export const PACK_MAX_EVENTS = 10;
export const PACK_MAX_BYTES = 96 * 1024;
