import { z } from "zod";
import { parseCron } from "./cron";
import { durationMs } from "./duration";
import { compileExpression, compileValue } from "./expression";
import type { AnyFailureHandler, AnyHandler } from "./types";

export const MAX_RETRIES = 20;
export const DEFAULT_RETRIES = 4;

/** Event names and trigger patterns: `*` matches within one `/`-separated segment's remainder. */
export const eventNamePattern = /^[A-Za-z0-9_.\-/:]{1,256}$/;
export const triggerPattern = /^[A-Za-z0-9_.\-/:*]{1,256}$/;
/** A `match` path: a dotted path into an event, such as `data.orderId`. */
export const MATCH_PATH = /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*){0,15}$/;

/** A CEL expression whose value is used: a key, a priority. */
const expressionText = z.string().superRefine(checkValue);
const concurrencyLimit = z.number().int().min(1, "a concurrency limit is 1 to 1000").max(1000, "a concurrency limit is 1 to 1000");
const concurrencyEntry = z
  .object({ limit: concurrencyLimit, key: expressionText.optional(), scope: z.enum(["fn", "env"]).optional() })
  .strict()
  .refine((c) => c.scope !== "env" || c.key !== undefined, { message: 'scope "env" needs a key', path: ["key"] });
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;
/** The most starts a rate limit counts per period (its window holds one row per start). */
export const MAX_RATE_LIMIT = 1000;
/** The most events one batch holds. */
export const MAX_BATCH_SIZE = 100;

export const functionConfigSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "ids are 1-128 of A-Z a-z 0-9 . _ - and start with a letter or digit"),
    name: z.string().max(256).optional(),
    /** An event (a name or a pattern), with an optional CEL filter `if` over `event`; or a cron schedule. */
    triggers: z
      .array(
        z.union([
          z
            .object({
              event: z.string().regex(triggerPattern, "an event name or a pattern with '*'"),
              if: z.string().superRefine(checkExpression).optional(),
            })
            .strict(),
          z.object({ cron: z.string().superRefine(checkCron) }).strict(),
        ]),
      )
      .min(1)
      .max(16),
    retries: z.number().int().min(0).max(MAX_RETRIES).default(DEFAULT_RETRIES),
    /**
     * Events that cancel a run still going: the event's name, `match` (a dotted path equal in it and in the
     * trigger), `if` (CEL over `event`, the trigger, and `async`, the candidate), and how long after the start
     * it applies (`timeout`).
     */
    cancelOn: z
      .array(
        z
          .object({
            event: z.string().regex(eventNamePattern, "an event name"),
            match: z.string().regex(MATCH_PATH, 'a dotted path such as "data.orderId"').optional(),
            if: z.string().superRefine(checkExpression).optional(),
            timeout: z.union([z.number(), z.string()]).transform(toDurationMs).optional(),
          })
          .strict(),
      )
      .max(16)
      .optional(),
    /**
     * `finish`: a run still going this long after it started (or was replayed) is cancelled with run_timed_out.
     * `start`: a run still queued (by `concurrency` or `throttle`) this long after it was created is cancelled with run_start_timed_out.
     */
    timeouts: z
      .object({
        start: z.union([z.number(), z.string()]).transform(toDurationMs).optional(),
        finish: z.union([z.number(), z.string()]).transform(toDurationMs).optional(),
      })
      .strict()
      .optional(),
    /**
     * How many runs execute at once: a number, a `{ limit, key?, scope? }`, or up to two of those. A run holds a
     * slot while it executes, not while it is queued, sleeps or waits. `scope: "env"` (with a `key`) shares the
     * limit with every function whose key gives the same value.
     */
    concurrency: z
      .union([
        z
          .number()
          .pipe(concurrencyLimit)
          .transform((limit): z.output<typeof concurrencyEntry>[] => [{ limit }]),
        concurrencyEntry.transform((c) => [c]),
        z.array(concurrencyEntry).min(1).max(2),
      ])
      .optional(),
    /** At most `limit` run starts per `period` (plus `burst` at once), per `key`; the rest wait, queued, and are never dropped. */
    throttle: z
      .object({
        limit: z.number().int().min(1).max(10_000),
        period: z.union([z.number(), z.string()]).transform(toPeriodMs),
        key: expressionText.optional(),
        burst: z.number().int().min(0).max(10_000).optional(),
      })
      .strict()
      .optional(),
    /** `run`: CEL over `event` giving seconds (-600 to 600, clamped) by which a queued run moves ahead (positive) or back. */
    priority: z.object({ run: expressionText }).strict().optional(),
    /** At most `limit` runs start per `period` (a sliding window) for each key value; events beyond it are skipped. */
    rateLimit: z
      .object({
        limit: z.number().int().min(1).max(MAX_RATE_LIMIT),
        period: duration("a period", SECOND, DAY),
        key: z.string().superRefine(checkKey).optional(),
      })
      .strict()
      .optional(),
    /** The run starts `period` after the last event for its key, with that event; `timeout` caps the delay from the first. */
    debounce: z
      .object({
        period: duration("a period", SECOND, 7 * DAY),
        key: z.string().superRefine(checkKey).optional(),
        timeout: duration("a timeout", SECOND, 7 * DAY).optional(),
      })
      .strict()
      .optional(),
    /**
     * One run per batch of up to `maxSize` events, started when it is full or `timeout` after its first event.
     * `if`: CEL over `event`; an event for which it is not true joins no batch and starts a run of its own at once.
     */
    batchEvents: z
      .object({
        maxSize: z.number().int().min(1).max(MAX_BATCH_SIZE),
        timeout: duration("a timeout", SECOND, MINUTE),
        key: z.string().superRefine(checkKey).optional(),
        if: z.string().superRefine(checkExpression).optional(),
      })
      .strict()
      .optional(),
    /** One run per key at a time: a new one is skipped, or cancels the one going. */
    singleton: z
      .object({ key: z.string().superRefine(checkKey).optional(), mode: z.enum(["skip", "cancel"]) })
      .strict()
      .optional(),
    /** A CEL key over `event`: at most one run per function and key value in 24 hours. */
    idempotency: z.string().superRefine(checkKey).optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    // Both hold events back to start a run later, each its own way: one run cannot be both.
    if (config.batchEvents && config.debounce) {
      ctx.addIssue({ code: "custom", path: ["batchEvents"], message: "cannot be combined with debounce" });
    }
    for (const delayed of ["batchEvents", "debounce"] as const) {
      if (config[delayed] && config.singleton) {
        ctx.addIssue({ code: "custom", path: ["singleton"], message: `cannot be combined with ${delayed}` });
      }
    }
  });

/** A duration (ms or a string) between `min` and `max` milliseconds. */
function duration(what: string, min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((value, ctx) => {
    const msValue = toDurationMs(value, ctx);
    if (msValue === z.NEVER) return z.NEVER;
    if (msValue < min || msValue > max) {
      ctx.addIssue({ code: "custom", message: `${what} is ${min / SECOND} s to ${max / SECOND} s`, params: { code: "invalid_duration" } });
      return z.NEVER;
    }
    return msValue;
  });
}

function checkKey(value: string, ctx: z.RefinementCtx): void {
  try {
    compileValue(value, "key");
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message.replace(/^key: /, ""), params: { code: "invalid_expression" } });
  }
}

function checkCron(value: string, ctx: z.RefinementCtx): void {
  try {
    parseCron(value, "cron");
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message.replace(/^cron: /, ""), params: { code: "invalid_cron" } });
  }
}

function checkValue(value: string, ctx: z.RefinementCtx): void {
  try {
    compileValue(value, "expression");
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message.replace(/^expression: /, ""), params: { code: "invalid_expression" } });
  }
}

function toPeriodMs(value: number | string, ctx: z.RefinementCtx): number {
  const ms = toDurationMs(value, ctx);
  if (typeof ms === "number" && (ms < 1000 || ms > 7 * 24 * 3600_000)) {
    ctx.addIssue({ code: "custom", message: "a period is 1 second to 7 days", params: { code: "invalid_duration" } });
    return z.NEVER;
  }
  return ms;
}

function checkExpression(value: string, ctx: z.RefinementCtx): void {
  try {
    compileExpression(value, "if");
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message.replace(/^if: /, ""), params: { code: "invalid_expression" } });
  }
}

function toDurationMs(value: number | string, ctx: z.RefinementCtx): number {
  try {
    return durationMs(value, "a timeout");
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message, params: { code: "invalid_duration" } });
    return z.NEVER;
  }
}

/**
 * For a value no shape of a union takes (`concurrency: 0`), the issue of
 * the shape its type fits, which says what is wrong, rather than "Invalid input".
 */
function explained(issue: z.core.$ZodIssue): z.core.$ZodIssue {
  if (issue.code !== "invalid_union") return issue;
  const fitting = issue.errors.flat().find((i) => i.code !== "invalid_type" || i.path.length > 0);
  return fitting ? { ...explained(fitting), path: [...issue.path, ...fitting.path] } : issue;
}

export type FunctionConfigInput = z.input<typeof functionConfigSchema>;
export type FunctionConfig = z.output<typeof functionConfigSchema>;

/** A function definition as the engine registers it. */
export interface StepflareFunction {
  readonly kind: "stepflare.function";
  readonly config: FunctionConfig;
  readonly handler: AnyHandler;
  readonly onFailure?: AnyFailureHandler;
}

export function defineFunction(config: FunctionConfigInput, handler: AnyHandler, onFailure?: AnyFailureHandler): StepflareFunction {
  const parsed = functionConfigSchema.safeParse(config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] && explained(parsed.error.issues[0]);
    const error = new TypeError(
      `invalid function config ${JSON.stringify(config?.id)}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
    );
    // A stable code: invalid_expression, invalid_duration or invalid_cron where a field says so, else invalid_function.
    const code = (issue as { params?: { code?: unknown } } | undefined)?.params?.code;
    throw Object.assign(error, { code: typeof code === "string" ? code : "invalid_function" });
  }
  if (typeof handler !== "function") throw new TypeError(`function ${parsed.data.id}: handler must be a function`);
  return Object.freeze({ kind: "stepflare.function" as const, config: parsed.data, handler, ...(onFailure ? { onFailure } : {}) });
}
