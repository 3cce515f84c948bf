import {
  isStepFailure,
  NonRetriableError,
  RetryAfterError,
  SEND_EVENT_OP,
  type SerializedError,
  StepflareError,
  serializeError,
} from "../../sdk/internal";
import type { AnyHandler, HandlerContext, StepTools } from "../../sdk/types";
import { AI_GATEWAY_OP, performInference } from "./ai-gateway";
import type { CallOptions } from "./call";
import { callApp } from "./call";
import { type Answer, type CallInput, DISCOVERY, journalId, type MemoState, type Op, sdkEvent } from "./protocol";
import type { RemoteTarget } from "./target";

/** The longest Retry-After honoured: a day; the SDK's own limit is a year, the engine's backoff takes over past it. */
const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** What a remote handler needs besides its target. */
export interface RemoteDeps {
  /** The key and timeout, read when the handler first calls (a missing key fails the run then, with its code). */
  options(): CallOptions;
  /** Step keys the journal held when this execution started. */
  journal: ReadonlySet<string>;
  /**
   * Whether the app may run a lone new step inside a discovery call (the run
   * object at the journal's frontier). A catch-up never may: the step may
   * already be in the journal, and the steps consumer runs only what it claimed.
   */
  runAhead: boolean;
  /** The call itself; callApp unless a test says otherwise. */
  call?: typeof callApp;
}

/**
 * A Stepflare handler that drives a remote function through the protocol,
 * mapping each op the app answers onto the engine's own step tools, so the
 * journal, retries, the steps queue, sleeps, waits and replays apply as to
 * any run. It asks the app for the next ops ("discovery") with the steps
 * settled so far; starts each new op as a step (`StepRun`/`StepPlanned`
 * become `step.run` whose function calls the app for that step id);
 * whenever one settles it asks again, until the app answers a result.
 * Discovery runs outside steps, as in Inngest: it runs the app's code
 * between steps again, never a memoized step.
 */
export function remoteHandler(target: RemoteTarget, deps: RemoteDeps): AnyHandler {
  const callOnce = deps.call ?? callApp;
  return async (ctx: HandlerContext) => {
    const options = deps.options();
    const call = (t: RemoteTarget, stepId: string, input: CallInput) => callOnce(t, stepId, input, options);
    const settled = new Map<string, MemoState>();
    const pending = new Map<string, Promise<void>>();
    const input = (attempt: number, immediate: boolean): CallInput => ({
      event: sdkEvent(ctx.event),
      events: ctx.events.map(sdkEvent),
      steps: settled,
      runId: ctx.runId,
      attempt,
      maxAttempts: target.retries + 1,
      disableImmediateExecution: !immediate,
    });
    // `attempt` counts from 0, as the step function gets it and the SDK reads it.
    const runStep = async (id: string, attempt: number): Promise<unknown> => {
      const answer = await call(target, id, input(attempt, false));
      if (answer.type !== "ops") throw errorOf(answer, `step ${id}`, false);
      const op = answer.ops.find((o) => o.id === id) ?? answer.ops[0]!;
      return stepOutcome(op, answer.retryAfterMs);
    };
    // How many of the journal's settled steps the handler has settled again: all of them, and the app may run ahead.
    let caughtUp = 0;
    const settle = (op: Op, state: MemoState) => {
      if (deps.journal.has(journalId(op)) && !settled.has(op.id)) caughtUp++;
      settled.set(op.id, state);
    };
    // The engine's own refusals end the handler with their code, as they would a local one: a tool's refusal, and a
    // step that failed with a code (a limit, a signature, an unreachable app). The app's errors, and a failed invoke,
    // go back to the app, for its code to catch.
    let fatal: unknown;
    const start = (op: Op, retryAfterMs: number | undefined) => {
      const perform = { runStep, infer: (opts: unknown) => performInference(opts, options.timeoutMs) };
      const p = startOp(ctx.step, op, perform, retryAfterMs).then(
        (data) => settle(op, { data: data === undefined ? null : data }),
        (e) => {
          const code = (e as { code?: unknown }).code;
          if (isStepFailure(e) && (typeof code !== "string" || code.startsWith("invoke_"))) settle(op, { error: errorState(e) });
          else fatal ??= e;
        },
      );
      pending.set(
        op.id,
        p.then(() => void pending.delete(op.id)),
      );
    };
    for (;;) {
      const atFrontier = pending.size === 0 && caughtUp === deps.journal.size;
      const sent = new Set(settled.keys());
      const answer = await call(target, DISCOVERY, input(ctx.attempt, deps.runAhead && atFrontier));
      if (answer.type === "result") return answer.data;
      if (answer.type === "error") throw errorOf(answer, "the function");
      const fresh: Op[] = [];
      for (const op of answer.ops) {
        if (op.op === "RunComplete") return op.data ?? null;
        if (sent.has(op.id)) {
          throw new StepflareError("non_deterministic", `the app reported step ${op.displayName ?? op.id} again after it settled`);
        }
        // Still going, or settled while this call was out: the next call tells the app.
        if (!pending.has(op.id) && !settled.has(op.id)) fresh.push(op);
      }
      for (const op of fresh) start(op, answer.retryAfterMs);
      if (pending.size === 0) {
        if (settled.size > sent.size) continue;
        throw new StepflareError("remote_protocol_error", "the app answered no new step and no result");
      }
      // The next discovery follows the first step to settle, as Inngest's executor calls again after each.
      await Promise.race(pending.values());
      if (fatal !== undefined) throw fatal;
    }
  };
}

/** What a step's function does for an op: call the app for one step, or make an AI request. */
interface OpWork {
  runStep(id: string, attempt: number): Promise<unknown>;
  infer(opts: unknown): Promise<unknown>;
}

/** Starts one op as the engine's step; answers its output, or rejects with its final error. */
function startOp(step: StepTools, op: Op, { runStep, infer }: OpWork, retryAfterMs: number | undefined): Promise<unknown> {
  const opts = op.opts ?? {};
  const id = journalId(op);
  // A step's own retries (Stepflare's serve() sends them); step.run refuses a number out of range, as for a local step.
  const run = { id, ...(typeof opts.retries === "number" ? { retries: opts.retries } : {}) };
  switch (op.op) {
    case "StepPlanned":
      return step.run(run, ({ attempt }) => runStep(op.id, attempt));
    // The app already ran the step in this call (its first attempt); a retry calls it again.
    case "StepRun":
    case "StepError":
    case "StepFailed":
      return step.run(run, ({ attempt }) => (attempt === 0 ? stepOutcome(op, retryAfterMs) : runStep(op.id, attempt)));
    // `step.ai.infer`: the engine asks the provider, under the step's retries; the answer is memoized like any output.
    case AI_GATEWAY_OP:
      return step.run(run, () => infer(opts));
    // The engine sends the events as a local step.sendEvent does: once, memoized, answering their ids.
    case SEND_EVENT_OP:
      if (!Array.isArray(opts.events)) {
        throw new StepflareError("remote_protocol_error", `a ${SEND_EVENT_OP} op without its events, for step ${op.displayName ?? op.id}`);
      }
      return step.sendEvent(id, opts.events as Parameters<StepTools["sendEvent"]>[1]);
    // The official SDKs put a sleep's duration and a wait's event in `name`; the published SDK spec puts them in `opts`.
    case "Sleep": {
      const when = typeof opts.duration === "string" ? opts.duration : (op.name ?? "");
      return /^\d{4}-\d\d-\d\dT/.test(when) ? step.sleepUntil(id, when) : step.sleep(id, when);
    }
    case "WaitForEvent":
      return step.waitForEvent(id, {
        event: typeof opts.event === "string" ? opts.event : (op.name ?? ""),
        timeout: String(opts.timeout ?? ""),
        ...(typeof opts.if === "string" ? { if: opts.if } : {}),
      });
    case "InvokeFunction": {
      const payload = (opts.payload ?? {}) as { data?: Record<string, unknown>; user?: Record<string, unknown> };
      return step.invoke(id, {
        function: String(opts.function_id ?? ""),
        data: payload.data ?? {},
        ...(payload.user ? { user: payload.user } : {}),
        ...(typeof opts.timeout === "string" ? { timeout: opts.timeout } : {}),
      });
    }
    default:
      throw new StepflareError("remote_op_unsupported", `the app asked for ${op.op}, which Stepflare does not run`);
  }
}

/**
 * A step call's op as the step function's outcome: its data, or a throw the
 * engine retries (StepError, no sooner than the answer's Retry-After) or not (StepFailed).
 */
function stepOutcome(op: Op, retryAfterMs?: number): unknown {
  if (op.op === "StepRun") return op.data ?? null;
  if (op.op === "StepError" || op.op === "StepFailed") {
    const error = errorOfOp(op.error);
    if (op.op === "StepFailed") throw Object.assign(new NonRetriableError(`${error.name}: ${error.message}`), { stack: error.stack });
    if (retryAfterMs !== undefined) {
      throw Object.assign(new RetryAfterError(error.message, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS)), { stack: error.stack });
    }
    throw Object.assign(new Error(error.message), { name: error.name, stack: error.stack });
  }
  throw new StepflareError("remote_protocol_error", `a step call answered ${op.op} for step ${op.displayName ?? op.id}`);
}

function errorOfOp(value: unknown): SerializedError {
  const v = (typeof value === "object" && value !== null ? value : {}) as Record<string, unknown>;
  return {
    name: typeof v.name === "string" ? v.name : "Error",
    message: typeof v.message === "string" ? v.message : "the step failed",
    ...(typeof v.stack === "string" ? { stack: v.stack } : {}),
  };
}

/** A failed step's state as the SDK reads it: the error the user's `await` throws. */
function errorState(e: unknown): SerializedError {
  const s = serializeError(e);
  return { name: s.name, message: s.message, ...(s.stack ? { stack: s.stack } : {}) };
}

/** The app's error answer as what the engine throws: not retried, retried after its delay, or retried. */
function errorOf(answer: Answer, what: string, keepCode = true): Error {
  if (answer.type !== "error") return new StepflareError("remote_protocol_error", `${what}: expected step ops, got ${answer.type}`);
  const { name, message, stack, code } = answer.error;
  // The function's code (a StepflareError's, a NonRetriableError's) becomes the run's. A step call's is dropped:
  // a step failure with a code is taken for the engine's own refusal, which ends the run (see `start`).
  const extra = { stack, ...(code === undefined || !keepCode ? {} : { code }) };
  if (answer.noRetry) return Object.assign(new NonRetriableError(`${name}: ${message}`), extra);
  if (answer.retryAfterMs !== undefined) {
    return Object.assign(new RetryAfterError(message, Math.min(answer.retryAfterMs, MAX_RETRY_AFTER_MS)), extra);
  }
  return Object.assign(new Error(message), { name, ...extra });
}
