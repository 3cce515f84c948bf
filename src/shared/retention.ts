import { z } from "zod";
import { durationMs } from "../../sdk/internal";

const DAY = 24 * 60 * 60 * 1000;

/** A period as `ms` reads it ("7d", "12h") or milliseconds, at least `min`, at most a year. */
const period = (fallback: string, min: number, what: string) =>
  z
    .union([z.number(), z.string()])
    .default(fallback)
    .transform((value, ctx) => {
      try {
        const ms = durationMs(value, `retention.${what}`);
        if (ms >= min) return ms;
        ctx.addIssue({ code: "custom", message: `retention.${what}: at least ${min} ms` });
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
      }
      return z.NEVER;
    });

/**
 * How long what the engine stores is kept, counted from a run's end, an
 * event's acceptance, a dead letter's failure. Events are kept at least a
 * day, as long as the default dedupe window: an id that can still be a
 * duplicate keeps its event to show.
 */
export const retentionSchema = z
  .object({
    /** Completed runs (and runs listed as skipped): their object's storage and their listing row. */
    completed: period("7d", 60_000, "completed"),
    /** Failed runs. */
    failed: period("30d", 60_000, "failed"),
    /** Cancelled runs. */
    cancelled: period("7d", 60_000, "cancelled"),
    /** Accepted events, once dispatched (one whose fan-out failed for good is kept as long as dead letters). */
    events: period("7d", DAY, "events"),
    /** Dead letters. */
    deadLetters: period("30d", 60_000, "deadLetters"),
  })
  .strict();

export type Retention = z.output<typeof retentionSchema>;

/** How long a run that ended with `status` is kept. */
export const runRetentionMs = (retention: Retention, status: "completed" | "failed" | "cancelled"): number => retention[status];
