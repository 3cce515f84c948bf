import { z } from "zod";
import { REPLAY_FROM, RUN_STATUSES } from "./schemas";

/**
 * What the HTTP API answers, as zod schemas: the OpenAPI document is
 * generated from them, and the workerd tests parse real answers with them,
 * so a field the routes add or drop without them fails a test. Strict, so an
 * answer has no field the document does not name.
 */
const iso = z.iso.datetime().meta({ description: "an ISO 8601 date-time, UTC" });
const runStatus = z.enum(RUN_STATUSES);
const stepStatus = z.enum(["planned", "running", "retrying", "sleeping", "waiting", "completed", "failed", "cancelled"]);

/** Any JSON value: a step's or a run's output, a poison message's body. */
const json = z.unknown().meta({ description: "any JSON value" });

export const publicError = z.strictObject({
  name: z.string(),
  message: z.string(),
  code: z.string().optional(),
  stepId: z.string().optional(),
  stack: z.string().optional(),
});

export const runSummary = z.strictObject({
  id: z.string(),
  functionId: z.string(),
  eventId: z.string(),
  status: runStatus,
  startedAt: iso,
  endedAt: iso.optional(),
  errorCode: z.string().optional().meta({
    description:
      "a failed run's error code (`run_missing` when its object lost it); for a skipped run, why: `function_paused`, `rate_limited`, `singleton_skipped`, `idempotency_duplicate`, `debounced`; for a queued run its debounce or batch holds, `debounce` or `batch`",
  }),
});

export const runsPage = z.strictObject({ runs: z.array(runSummary), nextCursor: z.string().nullable() });

export const runDetail = z.strictObject({
  id: z.string(),
  functionId: z.string(),
  eventId: z.string(),
  status: runStatus,
  queued: z
    .strictObject({
      reason: z.enum(["concurrency", "throttle", "debounce", "batch"]).optional().meta({
        description:
          "what holds the run back: a concurrency limit, its throttle, or its debounce period or open batch (the run has no steps yet); absent while it is first asked",
      }),
      since: iso.optional(),
      startAt: iso.optional().meta({ description: "under a throttle: when the run may start" }),
    })
    .optional()
    .meta({ description: "for a queued run: why it waits" }),
  skipped: z
    .strictObject({ reason: z.string(), message: z.string() })
    .optional()
    .meta({ description: "for a run flow control skipped: why (the listing's errorCode), in words" }),
  output: json.optional(),
  error: publicError.optional(),
  parent: z
    .strictObject({ runId: z.string(), stepKey: z.string() })
    .optional()
    .meta({ description: "for a run started by step.invoke: the invoking run and its step" }),
  attempt: z.number().int().nonnegative(),
  startedAt: iso,
  endedAt: iso.optional(),
  replays: z.array(z.strictObject({ at: iso, from: z.enum(REPLAY_FROM), previousError: publicError.optional() })).optional(),
  steps: z.array(
    z.strictObject({
      id: z.string(),
      key: z.string(),
      status: stepStatus,
      type: z
        .enum(["sleep", "wait", "invoke"])
        .optional()
        .meta({ description: "a step.sleep or step.sleepUntil; a step.waitForEvent; a step.invoke" }),
      invoked: z
        .strictObject({ functionId: z.string(), runId: z.string().optional() })
        .optional()
        .meta({ description: "an invoke's function and, once started, its child run" }),
      wakeAt: iso.optional().meta({ description: "when a sleep wakes" }),
      wait: z
        .strictObject({ event: z.string(), match: z.string().optional(), if: z.string().optional() })
        .optional()
        .meta({ description: "what a wait waits for" }),
      timeoutAt: iso.optional().meta({ description: "when a wait times out (answering null), or an invoke (invoke_timeout)" }),
      failedAttempts: z
        .array(z.strictObject({ attempt: z.number().int().positive(), startedAt: iso.optional(), endedAt: iso, error: publicError }))
        .optional()
        .meta({ description: "the step's failed attempts, oldest first (messages clipped to 1,024 characters, no stack)" }),
      attempts: z.number().int().nonnegative(),
      output: json.optional(),
      error: publicError.optional(),
      startedAt: iso.optional(),
      endedAt: iso.optional(),
    }),
  ),
});

export const runCancelled = z.strictObject({
  id: z.string(),
  status: z.literal("cancelled"),
  cancelled: z.boolean().meta({ description: "false when the run was cancelled before this call" }),
});

export const cancellationsDone = z.strictObject({
  cancelled: z.number().int().nonnegative(),
  failed: z.array(z.strictObject({ runId: z.string(), message: z.string() })),
  remaining: z.boolean().meta({ description: "more runs match: call again with `nextCursor`" }),
  nextCursor: z.string().nullable(),
});

export const runReplayed = z.strictObject({ id: z.string(), status: runStatus, replayed: z.literal(true) });

const storedEvent = z.strictObject({
  id: z.string(),
  name: z.string(),
  data: z.record(z.string(), z.unknown()),
  ts: z.number().int(),
  user: z.record(z.string(), z.unknown()).optional(),
  v: z.string().optional(),
});

export const eventView = z.strictObject({
  event: storedEvent,
  acceptedAt: iso,
  dispatched: z.boolean(),
  runs: z.array(
    z.strictObject({
      id: z.string(),
      functionId: z.string(),
      status: runStatus,
      errorCode: z.string().optional().meta({ description: "why a run failed, or why flow control skipped it (`rate_limited`, ...)" }),
    }),
  ),
});

export const eventDispatched = z.strictObject({ id: z.string(), wasDispatched: z.boolean(), enqueued: z.literal(true) });

export const deadLetter = z.strictObject({
  id: z.string(),
  source: z.string().meta({ description: "`run`, or the queue a poison message came from" }),
  runId: z.string().nullable(),
  functionId: z.string().nullable(),
  eventId: z.string().nullable(),
  stepKey: z.string().nullable(),
  attempts: z.number().int().nullable(),
  error: z.strictObject({
    name: z.string().nullable(),
    message: z.string().nullable(),
    code: z.string().optional(),
    stack: z.string().optional(),
  }),
  failedAt: iso,
  replayedAt: iso.optional(),
  replayCount: z.number().int().nonnegative(),
  body: json.optional(),
});

export const deadLettersPage = z.strictObject({ deadLetters: z.array(deadLetter), nextCursor: z.string().nullable() });

export const bulkReplayed = z.strictObject({
  replayed: z.number().int().nonnegative(),
  skipped: z.number().int().nonnegative(),
  remaining: z.boolean(),
  nextCursor: z.string().nullable(),
  runIds: z.array(z.string()),
  failed: z.array(z.strictObject({ runId: z.string(), message: z.string() })),
});

export const eventsPage = z.strictObject({
  events: z.array(z.strictObject({ id: z.string(), name: z.string(), acceptedAt: iso, dispatched: z.boolean() })),
  nextCursor: z.string().nullable(),
});

export const functionsList = z.strictObject({
  functions: z.array(
    z.strictObject({
      id: z.string(),
      name: z.string().optional(),
      triggers: z.array(z.union([z.strictObject({ event: z.string(), if: z.string().optional() }), z.strictObject({ cron: z.string() })])),
      retries: z.number().int().nonnegative(),
      onFailure: z.boolean().meta({ description: "whether the function has an onFailure handler" }),
      remote: z
        .literal(true)
        .optional()
        .meta({ description: "served by another app over the Inngest protocol (docs/remote-functions.md)" }),
      app: z.string().optional().meta({ description: "for a remote function: its app's id" }),
      runs: z.record(runStatus, z.number().int().nonnegative()).meta({ description: "runs listed, by status" }),
      paused: z.boolean().meta({ description: "whether the function is paused: its events start no runs" }),
      pausedAt: z.number().int().optional().meta({ description: "when it was paused (ms since the epoch)" }),
    }),
  ),
});

export const functionPaused = z.strictObject({
  id: z.string(),
  paused: z.boolean(),
  pausedAt: z.number().int().optional().meta({ description: "when it was paused (ms since the epoch); kept from the first pause" }),
});

export const eventsAccepted = z.strictObject({
  ids: z.array(z.string()).meta({ description: "one id per event, in order" }),
  status: z.literal(200),
});

export const engineInfo = z.strictObject({ name: z.literal("stepflare"), functions: z.number().int().nonnegative() });

/** The error envelope, with the codes one answer may carry. */
export const errorBody = (codes: readonly [string, ...string[]]) =>
  z.strictObject({ error: z.strictObject({ code: z.enum(codes), message: z.string() }) });

export const appsList = z.strictObject({
  apps: z.array(
    z.strictObject({
      id: z.string().meta({ description: "the app's id, as its SDK names it" }),
      url: z.string().meta({ description: "its serve URL, as it registered" }),
      sdk: z.string().optional().meta({ description: "the SDK it runs, such as js:v4.24.0" }),
      syncedAt: z.number().int().meta({ description: "when it last synced (ms since the epoch)" }),
      functions: z.array(z.string()).meta({ description: "its functions' ids" }),
    }),
  ),
});

export const appSynced = z.strictObject({
  synced: z.literal(true),
  apps: z.array(z.strictObject({ id: z.string(), url: z.string(), syncedAt: z.number().int() })).meta({
    description: "the apps registered at this URL",
  }),
});

export const appRegistered = z.looseObject({
  ok: z.literal(true),
  modified: z.boolean(),
  app: z.string(),
  functions: z.array(z.string()),
});

export const appRemoved = z.strictObject({ id: z.string(), removed: z.literal(true) });
