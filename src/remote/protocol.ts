import { z } from "zod";
import { MAX_CODE, type SerializedError } from "../../sdk/internal";

/**
 * The Inngest executor protocol, as the engine speaks it to an app's serve
 * URL: the request it POSTs (`?fnId=...&stepId=...`), and the answers it
 * reads back. Pure: the HTTP and the signing are in call.ts.
 */

/** A settled step as the SDK reads it from `steps`, keyed by its hashed id. */
export type MemoState = { data: unknown } | { error: SerializedError };

/** The `stepId` that asks the SDK to run the function to its next ops, rather than one step. */
export const DISCOVERY = "step";

export interface CallInput {
  event: unknown;
  events: unknown[];
  /** Settled steps by hashed id, in the order they settled (the SDK's stack). */
  steps: ReadonlyMap<string, MemoState>;
  runId: string;
  /** From 0: the step's attempt for a step call, the handler's for discovery. */
  attempt: number;
  maxAttempts: number;
  /** False lets the SDK run a lone new step in the same call (answering StepRun). */
  disableImmediateExecution: boolean;
}

/**
 * The request body. No `ctx.fn_id`, so a v4 app runs plain step by step and
 * never checkpoints to an Inngest API; `use_api: false`, so it reads the
 * event and steps from this body.
 */
export function callBody(input: CallInput): Record<string, unknown> {
  return {
    event: input.event,
    events: input.events,
    steps: Object.fromEntries(input.steps),
    ctx: {
      run_id: input.runId,
      attempt: input.attempt,
      max_attempts: input.maxAttempts,
      disable_immediate_execution: input.disableImmediateExecution,
      use_api: false,
      stack: { stack: [...input.steps.keys()], current: input.steps.size },
    },
    version: -1,
  };
}

const opSchema = z
  .object({
    id: z.string().min(1).max(128),
    op: z.string(),
    name: z.string().optional(),
    displayName: z.string().optional(),
    opts: z.record(z.string(), z.unknown()).nullish(),
    data: z.unknown().optional(),
    error: z.unknown().optional(),
    userland: z.unknown().optional(),
  })
  .loose();

export type Op = z.infer<typeof opSchema>;

/** What a step id cannot hold: `:` (the key's occurrence separator), control characters, lone surrogates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are the characters it finds.
const NOT_IN_STEP_IDS = /[:\u0000-\u001f\u007f-\u009f\ud800-\udfff]/g;

/**
 * The id an op's step has in the run's journal: the user's step id (or its
 * display name), then the start of the SDK's hashed id, which keeps it
 * unique, so each op maps to one journal row in every catch-up. Readable in
 * the dashboard; `:` and control characters, which step ids refuse, become `_`.
 */
export function journalId(op: Op): string {
  const userland = (op.userland as { id?: unknown } | undefined)?.id;
  const name = typeof userland === "string" ? userland : (op.displayName ?? "");
  const clean = name.replace(NOT_IN_STEP_IDS, "_").trimStart().slice(0, 100);
  return clean ? `${clean} ${op.id.slice(0, 12)}` : op.id;
}

/** What one call answered, classified. */
export type Answer =
  | { type: "result"; data: unknown }
  /** `retryAfterMs`: for a step that failed in this call (`StepError`), when to try it again. */
  | { type: "ops"; ops: Op[]; retryAfterMs?: number }
  | { type: "error"; status: number; error: SerializedError; noRetry: boolean; retryAfterMs?: number };

/** Reads an answer from its status, headers and body text; a body that breaks the protocol is an error the caller fails on. */
export function readAnswer(
  status: number,
  headers: Headers,
  text: string,
  nowMs = Date.now(),
): Answer | { type: "malformed"; why: string } {
  let body: unknown = null;
  if (text !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      if (status === 200 || status === 206) return { type: "malformed", why: `a ${status} answer whose body is not JSON` };
      body = { message: text.slice(0, 500) };
    }
  }
  if (status === 200) return { type: "result", data: body };
  if (status === 206) {
    const parsed = z.array(opSchema).min(1).safeParse(body);
    if (!parsed.success) return { type: "malformed", why: "a 206 answer that is not a list of step ops" };
    const retryAfterMs = retryAfterOf(headers.get("retry-after"), nowMs);
    return { type: "ops", ops: parsed.data, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
  }
  const retryAfterMs = retryAfterOf(headers.get("retry-after"), nowMs);
  return {
    type: "error",
    status,
    error: errorOf(body, `the app answered HTTP ${status}`),
    noRetry: headers.get("x-inngest-no-retry") === "true",
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
}

/** An error the SDK serialized (`{ name, message, code, stack }`), kept to those fields. */
export function errorOf(value: unknown, fallback: string): SerializedError {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  const text = (x: unknown) => (typeof x === "string" && x !== "" ? x : undefined);
  const message = text(v.message) ?? text(v.error) ?? (typeof value === "string" ? value : fallback);
  const stack = text(v.stack);
  const code = text(v.code);
  return {
    name: text(v.name) ?? "Error",
    message: message.slice(0, 4096),
    ...(code ? { code: code.slice(0, MAX_CODE) } : {}),
    ...(stack ? { stack: stack.slice(0, 8192) } : {}),
  };
}

/** `Retry-After` as the SDK sends it: whole seconds, or an ISO date. */
export function retryAfterOf(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}

/** The engine's own events under the names the SDK knows them by: it refuses an event none of a function's triggers names. */
const SDK_EVENT_NAMES: Record<string, string> = {
  "stepflare/function.invoked": "inngest/function.invoked",
  "stepflare/scheduled.timer": "inngest/scheduled.timer",
  "stepflare/function.failed": "inngest/function.failed",
  "stepflare/function.cancelled": "inngest/function.cancelled",
};

/** An app's trigger on one of Inngest's system events, as the engine's event of the same meaning (an `onFailure` handler's). */
export function engineEventName(name: string): string {
  for (const [engine, sdk] of Object.entries(SDK_EVENT_NAMES)) if (sdk === name) return engine;
  return name;
}

/** An event as the app's SDK expects it. */
export function sdkEvent(event: unknown): unknown {
  const name = (event as { name?: unknown } | null)?.name;
  const renamed = typeof name === "string" ? SDK_EVENT_NAMES[name] : undefined;
  return renamed ? { ...(event as object), name: renamed } : event;
}
