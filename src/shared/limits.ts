import { z } from "zod";

const MiB = 1024 * 1024;

/**
 * Every limit the engine enforces, each at its exact boundary. Defaults are
 * documented in the README; `createEngine({ limits })` overrides them.
 */
export const limitsSchema = z
  .object({
    /** Bytes of one ingest request body. Above it: 413 payload_too_large. */
    maxRequestBytes: z
      .number()
      .int()
      .positive()
      .max(2 * MiB)
      .default(MiB),
    /** Events in one ingest request. Above it: 400 invalid_event. */
    maxEventsPerRequest: z.number().int().positive().max(5000).default(1000),
    /** Steps in one run. One more fails the run with step_limit_exceeded. At most 10,000: every step is a row held in memory by its run's object. */
    maxStepsPerRun: z.number().int().positive().max(10_000).default(1000),
    /** Bytes of one step's JSON output. Above it: step_output_too_large, not retried. */
    maxStepOutputBytes: z.number().int().positive().max(MiB).default(MiB),
    /** Bytes of a run's JSON output. Above it: output_too_large. */
    maxRunOutputBytes: z.number().int().positive().max(MiB).default(MiB),
    /** Bytes of all step outputs and step errors (as stored) of one run together. Above it: run_state_too_large. */
    maxRunStateBytes: z
      .number()
      .int()
      .positive()
      .max(24 * MiB)
      .default(16 * MiB),
    /** Event ids seen within this window start no new runs. */
    dedupeWindowMs: z
      .number()
      .int()
      .positive()
      .default(24 * 60 * 60 * 1000),
    /** A dispatched step not claimed by a steps consumer within this time is sent again (its message was lost). */
    stepDispatchLeaseMs: z
      .number()
      .int()
      .positive()
      .default(30 * 1000),
    /**
     * A steps consumer's claim of a step lapses after this long unless the consumer renews it (it does, a
     * third of the way through, while the step runs); a claim that lapses counts as an interrupted attempt.
     */
    stepClaimLeaseMs: z
      .number()
      .int()
      .min(1000)
      .max(15 * 60 * 1000)
      .default(30 * 1000),
    /**
     * A started step with no result within this time counts as a failed attempt (step_timeout). At most 15
     * minutes: a dispatched step runs in a queue consumer invocation, which has no more wall time than that.
     */
    stepTimeoutMs: z
      .number()
      .int()
      .positive()
      .max(15 * 60 * 1000)
      .default(15 * 60 * 1000),
    /**
     * A concurrency slot's lease: when it lapses, the limit's object asks the run whether it still holds the slot
     * (one call per running run per lease, not a renewal from every run), so a slot whose release was lost comes back.
     */
    concurrencyLeaseMs: z
      .number()
      .int()
      .min(1000)
      .max(60 * 60 * 1000)
      .default(60 * 1000),
  })
  .strict();

export const backoffSchema = z
  .object({
    /** Delay before the first retry; doubles each attempt, with jitter. */
    baseMs: z.number().int().nonnegative().default(1000),
    /** Upper bound of any retry delay. */
    maxMs: z
      .number()
      .int()
      .nonnegative()
      .default(10 * 60 * 1000),
  })
  .strict();

export type Limits = z.output<typeof limitsSchema>;
export type Backoff = z.output<typeof backoffSchema>;
