import { isNonRetriable, isStepFailure, type SerializedError, serializeError } from "../errors";
import { Execution, type ExecutionOutcome, type FoundStep, type MemoEntry } from "../execution";
import type { StepflareFunction } from "../function";
import type { InvokeSpec } from "../invoke";
import type { EventPayload } from "../protocol";
import type { Logger, StepflareEnv, StepflareEvent } from "../types";
import type { WaitSpec } from "../wait";
import { asStored, runStep, type StepMock } from "./step";

export type { StepMock } from "./step";

export interface TestRunOptions {
  /** The event the function runs against; `id` and `ts` are filled in when missing. */
  event: EventPayload;
  /**
   * Step results to mock, by step id: each occurrence of the id runs `handler`
   * instead of the step's own function. What it returns is the step's output;
   * what it throws fails the step at once, with no retries.
   */
  steps?: StepMock[];
  /** The bindings the handler sees as `env`. */
  env?: StepflareEnv;
  runId?: string;
  /** Where the handler's `logger` writes; silent by default. */
  logger?: Logger;
}

/** One step as the run settled it, in the order the handler started them. */
export interface TestStep {
  /** The id the handler gave the step. */
  id: string;
  /** The durable key: the id, or `id:1`, `id:2`, ... for a reused id. */
  key: string;
  status: "completed" | "failed";
  output?: unknown;
  error?: SerializedError;
  /** True when a mock answered instead of the step's own function. */
  mocked: boolean;
  /** For `step.sleep` and `step.sleepUntil`: when the sleep would end (ms since the epoch). The test does not wait. */
  sleepUntil?: number;
  /** For `step.sendEvent`: the events the step would send, as given. Nothing is sent. */
  events?: unknown[];
  /** For `step.waitForEvent`: the event awaited, and when the wait would time out (ms since the epoch). */
  waitFor?: WaitSpec & { timeoutAt: number };
  /** For `step.invoke`: the function invoked and its event's data. Only a mock answers it. */
  invoke?: InvokeSpec;
}

export interface TestRunResult {
  /** What the handler returned (as JSON, the way the engine stores it), when it returned. */
  output: unknown;
  /** Why the run failed, when it failed. */
  error: SerializedError | undefined;
  steps: TestStep[];
}

const silent: Logger = { info() {}, warn() {}, error() {}, debug() {} };

/**
 * Runs one function against one event, in-process: every step not mocked
 * runs for real, with the function's retries (without their backoff), a
 * sleep ends at once (its step records when it would have ended), a
 * sendEvent sends nothing (its step records the events, and answers an id
 * for each: the event's own or `<step key>-<index>`), a waitForEvent times
 * out at once (null) unless a mock answers the event, an invoke needs a
 * mock (the child function is not run here), and
 * the handler is retried after an error outside any step, as the engine does.
 * Steps resolve through the SDK's own execution engine, so memoization, step
 * keys and parallel batches behave as they do in a deployed run.
 *
 * @example
 * const { output, steps } = await runFunction(sendWelcome, {
 *   event: { name: "app/user.signup", data: { email: "a@b.c" } },
 *   steps: [{ id: "send-email", handler: () => ({ sent: true }) }],
 * });
 */
export async function runFunction(fn: StepflareFunction, options: TestRunOptions): Promise<TestRunResult> {
  const event: StepflareEvent = {
    data: {},
    ...options.event,
    id: options.event.id ?? `test-event-${crypto.randomUUID()}`,
    ts: options.event.ts ?? Date.now(),
  } as StepflareEvent;
  const mocks = new Map((options.steps ?? []).map((m) => [m.id, m]));
  const memo = new Map<string, MemoEntry>();
  const steps: TestStep[] = [];
  let seq = 0;
  // Steps still out when the handler settles (a parallel sibling of a failed step) finish before the answer, as in the engine's journal.
  const inFlight = new Set<Promise<void>>();

  for (let attempt = 0; ; attempt++) {
    const outcome = await new Promise<ExecutionOutcome>((settle) => {
      const exec = new Execution(
        fn.handler,
        { event, env: options.env ?? {}, runId: options.runId ?? "test-run", attempt, logger: options.logger ?? silent, memo },
        {
          onSettled: settle,
          onFound: (found) => {
            for (const step of found) {
              const p = settleStep(step).finally(() => inFlight.delete(p));
              inFlight.add(p);
            }
          },
        },
      );
      const settleStep = async (step: FoundStep) => {
        const record: TestStep = { id: step.id, key: step.key, status: "completed", mocked: mocks.has(step.id) };
        if (step.wait) record.waitFor = { ...step.wait, timeoutAt: step.until ?? 0 };
        else if (step.invoke) record.invoke = step.invoke;
        else if (step.until !== undefined) record.sleepUntil = step.until;
        if (step.send !== undefined) record.events = step.send;
        steps.push(record);
        const result = await runStep(step, mocks.get(step.id), step.retries ?? fn.config.retries);
        // Each settlement apart from the others, so a retried handler replays them in this order.
        seq += 2;
        if (result.ok) {
          record.output = result.output;
          memo.set(step.key, { status: "completed", output: result.output, seq });
          step.resolve(result.output, seq);
        } else {
          record.status = "failed";
          record.error = result.error;
          memo.set(step.key, { status: "failed", error: result.error, seq });
          step.reject(result.error, seq);
        }
      };
      exec.start();
    });
    while (inFlight.size > 0) await Promise.all(inFlight);
    if (outcome.type === "returned") {
      try {
        return { output: asStored(outcome.output), error: undefined, steps };
      } catch (error) {
        return { output: undefined, error: serializeError(error), steps };
      }
    }
    if (!handlerRetries(outcome.error) || attempt >= fn.config.retries) {
      return { output: undefined, error: serializeError(outcome.error), steps };
    }
  }
}

/** A failed step (its retries spent) and a non-retriable error fail the run; anything else retries the handler. */
const handlerRetries = (error: unknown): boolean => !isStepFailure(error) && !isNonRetriable(error);
