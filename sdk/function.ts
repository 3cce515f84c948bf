import { z } from "zod";
import { durationMs } from "./duration";
import type { AnyFailureHandler, AnyHandler } from "./types";

export const MAX_RETRIES = 20;
export const DEFAULT_RETRIES = 4;

/** Event names and trigger patterns: `*` matches within one `/`-separated segment's remainder. */
export const eventNamePattern = /^[A-Za-z0-9_.\-/:]{1,256}$/;
export const triggerPattern = /^[A-Za-z0-9_.\-/:*]{1,256}$/;

export const functionConfigSchema = z
  .object({
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "ids are 1-128 of A-Z a-z 0-9 . _ - and start with a letter or digit"),
    name: z.string().max(256).optional(),
    triggers: z
      .array(z.object({ event: z.string().regex(triggerPattern, "an event name or a pattern with '*'") }).strict())
      .min(1)
      .max(16),
    retries: z.number().int().min(0).max(MAX_RETRIES).default(DEFAULT_RETRIES),
    /** `finish`: a run still going this long after it started (or was replayed) is cancelled with run_timed_out. */
    timeouts: z
      .object({ finish: z.union([z.number(), z.string()]).transform(toDurationMs).optional() })
      .strict()
      .optional(),
  })
  .strict();

function toDurationMs(value: number | string, ctx: z.RefinementCtx): number {
  try {
    return durationMs(value, "a timeout");
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
    return z.NEVER;
  }
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
    const issue = parsed.error.issues[0];
    throw new TypeError(`invalid function config ${JSON.stringify(config?.id)}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  if (typeof handler !== "function") throw new TypeError(`function ${parsed.data.id}: handler must be a function`);
  return Object.freeze({ kind: "stepflare.function" as const, config: parsed.data, handler, ...(onFailure ? { onFailure } : {}) });
}
