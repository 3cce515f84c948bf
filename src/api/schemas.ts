import { z } from "zod";
import { eventNamePattern, MAX_CODE, MAX_EXPRESSION_LENGTH } from "../../sdk/internal";
import { instant } from "./instant";
import { pageLimit } from "./query";

/**
 * What the management API's routes accept: the query parameters and bodies
 * they parse with, and the OpenAPI document is generated from. One schema per
 * request, shared, so the document cannot say what the route does not do.
 */
export const RUN_STATUSES = ["queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled", "skipped"] as const;
export const REPLAY_FROM = ["failed-step", "start"] as const;

const functionId = z.string().min(1).max(128).meta({ description: "a function's id" });
const cursor = z.string().max(512).meta({ description: "the `nextCursor` of the page before" });

export const runsListQuery = z
  .object({
    functionId: functionId.optional(),
    status: z.enum(RUN_STATUSES).optional(),
    since: instant("query").optional().meta({ description: "started at or after this time" }),
    until: instant("query").optional().meta({ description: "started before this time" }),
    limit: pageLimit,
    cursor: cursor.optional(),
  })
  .strict();

export const eventsListQuery = z
  .object({
    name: z.string().regex(eventNamePattern, "must be an event name: 1-256 of A-Z a-z 0-9 _ . - / :").optional(),
    since: instant("query").optional().meta({ description: "accepted at or after this time" }),
    until: instant("query").optional().meta({ description: "accepted before this time" }),
    limit: pageLimit,
    cursor: cursor.optional(),
  })
  .strict();

export const runReplayBody = z
  .object({
    from: z
      .enum(REPLAY_FROM)
      .default("failed-step")
      .meta({ description: "keep completed steps and run the failed one again, or start over" }),
  })
  .strict();

const filterShape = (from: "query" | "body") => ({
  functionId: functionId.optional(),
  since: instant(from).optional(),
  until: instant(from).optional(),
  // A stored code is at most MAX_CODE characters, or that and the suffix saying how much was clipped.
  code: z
    .string()
    .min(1)
    .max(MAX_CODE + 64)
    .meta({ description: "the error code" })
    .optional(),
});

export const deadLettersListQuery = z.object({ ...filterShape("query"), limit: pageLimit, cursor: cursor.optional() }).strict();

/** At most this many runs are cancelled per bulk call; `remaining` tells the caller to call again. */
export const BULK_CANCEL_MAX = 1000;

export const cancellationsBody = z
  .object({
    functionId: z.string().min(1).max(128).meta({ description: "the function whose runs to cancel" }),
    startedAfter: instant("body").optional().meta({ description: "only runs started at or after this time" }),
    startedBefore: instant("body").optional().meta({ description: "only runs started before this time" }),
    if: z
      .string()
      .min(1)
      .max(MAX_EXPRESSION_LENGTH)
      .optional()
      .meta({ description: "a CEL expression over `event`, the run's triggering event: only runs where it is true" }),
    cursor: z.string().max(512).meta({ description: "the `nextCursor` of the call before" }).optional(),
  })
  .strict();

/** At most this many runs are replayed per bulk call; `remaining` tells the caller to call again. */
export const BULK_REPLAY_MAX = 500;

export const bulkReplayBody = z
  .object({
    ...filterShape("body"),
    from: z.enum(REPLAY_FROM).default("failed-step"),
    limit: z.number().int().min(1).max(BULK_REPLAY_MAX).default(BULK_REPLAY_MAX),
    cursor: z.string().max(512).meta({ description: "the `nextCursor` of the call before" }).optional(),
  })
  .strict();
