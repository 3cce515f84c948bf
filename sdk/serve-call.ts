import { isNonRetriable, isStepFailure, retryAfterMsOf, type SerializedError, StepflareError, serializeError } from "./errors";
import { Execution, type ExecutionOutcome, type FoundStep, type MemoEntry } from "./execution";
import type { StepflareFunction } from "./function";
import { toJson } from "./json";
import { sha1Hex } from "./sha1";
import type { Logger, StepflareEnv, StepflareEvent } from "./types";

/**
 * One call of the Inngest executor protocol against a Stepflare function, as
 * an app answers it: the memo from the request's `steps` (keyed by SHA-1 of
 * the step key, released in the order of `ctx.stack`), the handler run to
 * its next ops, and the answer. Pure but for the handler itself.
 */

/** The `stepId` that asks for the function's next ops rather than one step. */
export const DISCOVERY = "step";

/**
 * The op that asks the engine to send a `step.sendEvent`'s events (in
 * `opts.events`) as its own step does. Stepflare's alone: Inngest's SDKs send
 * from the app and answer StepRun. A step's own `retries` travels in
 * `opts.retries` of StepPlanned, StepRun, StepError and StepFailed.
 */
export const SEND_EVENT_OP = "SendEvent";

/** What a call request carries that this side reads. */
export interface CallRequest {
  event: StepflareEvent;
  events?: StepflareEvent[];
  steps?: Record<string, unknown>;
  ctx?: { run_id?: string; attempt?: number; disable_immediate_execution?: boolean; stack?: { stack?: string[] } };
}

/** A step op as the engine reads it from a 206 answer. */
export interface Op {
  id: string;
  op: string;
  name?: string;
  displayName: string;
  opts?: Record<string, unknown>;
  data?: unknown;
  error?: SerializedError;
}

/** The answer to one call: its HTTP status, body and the retry headers. */
export type CallAnswer =
  | { status: 200; body: unknown }
  | { status: 206; body: Op[] }
  | { status: 400 | 500; body: SerializedError; noRetry: boolean; retryAfterS?: number };

const hashOf = (key: string) => sha1Hex(key);

/** The memo the engine sent, in the order its steps settled. */
export function memoOf(request: CallRequest): Map<string, MemoEntry> {
  const steps = request.steps ?? {};
  const order = [...(request.ctx?.stack?.stack ?? []).filter((id) => Object.hasOwn(steps, id))];
  for (const id of Object.keys(steps)) if (!order.includes(id)) order.push(id);
  const memo = new Map<string, MemoEntry>();
  order.forEach((id, i) => {
    const state = steps[id];
    const seq = 2 * i; // a gap between numbers: each step settled on its own, so each resumes the handler in turn
    if (typeof state === "object" && state !== null && "error" in state) {
      memo.set(id, { status: "failed", error: serializeError((state as { error: unknown }).error), seq });
    } else {
      const data = typeof state === "object" && state !== null && "data" in state ? (state as { data: unknown }).data : state;
      memo.set(id, { status: "completed", output: data, seq });
    }
  });
  return memo;
}

/** Runs the function to its next ops (or the one step `stepId` names) and answers. */
export async function answerCall(
  fn: StepflareFunction,
  stepId: string,
  request: CallRequest,
  env: StepflareEnv,
  logger: Logger,
): Promise<CallAnswer> {
  const attempt = request.ctx?.attempt ?? 0;
  const reached = await new Promise<{ found: FoundStep[] } | { outcome: ExecutionOutcome }>((resolve) => {
    const execution = new Execution(
      fn.handler,
      {
        event: request.event,
        events: request.events ?? [request.event],
        env,
        runId: request.ctx?.run_id ?? "",
        attempt,
        logger,
        memo: memoOf(request),
        memoKey: hashOf,
      },
      {
        onFound: (found) => {
          execution.abandon();
          resolve({ found });
        },
        onSettled: (outcome) => resolve({ outcome }),
      },
    );
    execution.start();
  });
  if ("outcome" in reached) {
    const { outcome } = reached;
    return outcome.type === "returned" ? { status: 200, body: outcome.output ?? null } : errorAnswer(outcome.error);
  }
  const { found } = reached;
  if (stepId !== DISCOVERY) {
    const step = found.find((s) => hashOf(s.key) === stepId);
    if (!step || kindOf(step) !== "run") {
      return errorAnswer(
        new StepflareError("non_deterministic", `the function did not reach the step the engine asked to run (${stepId})`),
      );
    }
    return { status: 206, body: [await runStep(step, attempt)] };
  }
  const [only] = found;
  if (found.length === 1 && only && kindOf(only) === "run" && request.ctx?.disable_immediate_execution !== true) {
    return { status: 206, body: [await runStep(only, 0)] };
  }
  return { status: 206, body: found.map(planned) };
}

/**
 * Runs a function's onFailure for the engine's function.failed event (its
 * data: the run's trigger `event`, `error`, `run_id`), as the engine runs a
 * local one: no steps; its throw is retried under the function's retries.
 */
export async function answerFailure(fn: StepflareFunction, request: CallRequest, env: StepflareEnv, logger: Logger): Promise<CallAnswer> {
  const data = (request.event.data ?? {}) as { event?: StepflareEvent; error?: unknown; run_id?: unknown };
  const error = serializeError(data.error);
  try {
    const output = await fn.onFailure!({
      event: data.event ?? request.event,
      env,
      runId: typeof data.run_id === "string" ? data.run_id : "",
      functionId: fn.config.id,
      error: { name: error.name, message: error.message, ...(error.code ? { code: error.code } : {}) },
      logger,
    });
    return { status: 200, body: JSON.parse(toJson(output) ?? "null") };
  } catch (e) {
    return errorAnswer(e);
  }
}

type Kind = "run" | "sleep" | "wait" | "invoke" | "send";

function kindOf(step: FoundStep): Kind {
  if (step.wait) return "wait";
  if (step.invoke) return "invoke";
  if (step.send) return "send";
  return step.until === undefined ? "run" : "sleep";
}

/** A step's own retries, as the ops that run it carry them; none when the function's apply. */
const retriesOf = (step: FoundStep) => (step.retries === undefined ? {} : { opts: { retries: step.retries } });

/** A step reached but not run: the op that asks the engine to run, sleep, wait, invoke or send it. */
function planned(step: FoundStep): Op {
  const base = { id: hashOf(step.key), displayName: step.id };
  const remaining = `${Math.max(0, (step.until ?? Date.now()) - Date.now())}ms`;
  switch (kindOf(step)) {
    case "sleep":
      return { ...base, op: "Sleep", name: new Date(step.until!).toISOString() };
    case "wait": {
      const { event, match, if: cond } = step.wait!;
      const both = asyncCondition(match, cond);
      return { ...base, op: "WaitForEvent", name: event, opts: { timeout: remaining, ...(both ? { if: both } : {}) } };
    }
    case "invoke": {
      const { functionId, data, user } = step.invoke!;
      return {
        ...base,
        op: "InvokeFunction",
        opts: { function_id: functionId, payload: { data, ...(user ? { user } : {}) }, timeout: remaining },
      };
    }
    case "send":
      return { ...base, op: SEND_EVENT_OP, name: step.id, opts: { events: step.send } };
    default:
      return { ...base, op: "StepPlanned", name: step.id, ...retriesOf(step) };
  }
}

/** A `match` (a dotted path equal in the run's event and the awaited one) and an `if`, as the one `if` Inngest's ops carry. */
export function asyncCondition(match: string | undefined, cond: string | undefined): string | undefined {
  const matched = match ? `event.${match} == async.${match}` : undefined;
  return matched && cond ? `(${matched}) && (${cond})` : (matched ?? cond);
}

/** Runs one step's function: StepRun with its output, StepError (retried), or StepFailed (not retried). */
async function runStep(step: FoundStep, attempt: number): Promise<Op> {
  const base = { id: hashOf(step.key), name: step.id, displayName: step.id, ...retriesOf(step) };
  try {
    const output = await step.fn({ attempt });
    // The output as it will be stored: a value that is not JSON fails the step here, not retried.
    const data = JSON.parse(toJson(output) ?? "null");
    return { ...base, op: "StepRun", data };
  } catch (e) {
    return { ...base, op: isNonRetriable(e) ? "StepFailed" : "StepError", error: serializeError(e) };
  }
}

/** The function's own error: not retried (400) when it is final, else retried (500), after its Retry-After if it asks one. */
function errorAnswer(error: unknown): CallAnswer {
  const body = serializeError(error);
  if (isNonRetriable(error) || isStepFailure(error)) return { status: 400, body, noRetry: true };
  const ms = retryAfterMsOf(error);
  return { status: 500, body, noRetry: false, ...(ms === undefined ? {} : { retryAfterS: Math.ceil(ms / 1000) }) };
}
