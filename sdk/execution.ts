import type { SerializedError } from "./errors";
import { StepFailedError } from "./errors";
import { MAX_RETRIES } from "./function";
import { assertStepId, StepKeys } from "./step-keys";
import type { AnyHandler, HandlerContext, Logger, StepOptions, StepTools } from "./types";

/** What the journal already holds for a step key. */
export type MemoEntry = { status: "completed"; output: unknown } | { status: "failed"; error: SerializedError };

/** A step the handler reached that the journal has not settled yet. */
export interface FoundStep {
  readonly key: string;
  readonly id: string;
  readonly retries: number | undefined;
  /** Runs the user's step function once. */
  readonly fn: (ctx: { attempt: number }) => unknown;
  /** Settles the handler's `await` with a committed output (already JSON-shaped). */
  resolve(output: unknown): void;
  /** Settles the handler's `await` with the step's final error. */
  reject(error: SerializedError): void;
}

export type ExecutionOutcome = { type: "returned"; output: unknown } | { type: "threw"; error: unknown };

export interface ExecutionHooks {
  /** New unsettled steps, reported together once the microtask queue is quiet. */
  onFound(steps: FoundStep[]): void;
  /** The handler returned or threw. Called at most once. */
  onSettled(outcome: ExecutionOutcome): void;
}

export interface ExecutionInput {
  event: HandlerContext["event"];
  env: HandlerContext["env"];
  runId: string;
  attempt: number;
  logger: Logger;
  memo: (key: string) => MemoEntry | undefined;
}

/**
 * How many microtask turns with no new step mean "the handler is blocked".
 * Every step created in one synchronous run, or within this many awaits of
 * each other (nested async helpers inside a Promise.all), is reported in one
 * batch. Timers are not used: a timer hop costs ~1 ms in workerd, which would
 * dominate a sequential step.
 */
const QUIET_TURNS = 100;

/**
 * One run of a handler against the journal. Memoized steps resolve at once
 * (a replay is pure microtask work); unsettled steps are reported through
 * `onFound` and stay pending until the engine settles them or abandons the
 * execution. The same class serves the run's Durable Object, which keeps an
 * execution live across steps, and the steps consumer, which replays up to
 * the steps it was asked to run.
 */
export class Execution {
  readonly #handler: AnyHandler;
  readonly #input: ExecutionInput;
  readonly #hooks: ExecutionHooks;
  readonly #keys = new StepKeys();
  #batch: FoundStep[] = [];
  #draining = false;
  #done = false;

  constructor(handler: AnyHandler, input: ExecutionInput, hooks: ExecutionHooks) {
    this.#handler = handler;
    this.#input = input;
    this.#hooks = hooks;
  }

  get settled(): boolean {
    return this.#done;
  }

  start(): void {
    const ctx: HandlerContext = {
      event: this.#input.event,
      env: this.#input.env,
      runId: this.#input.runId,
      attempt: this.#input.attempt,
      logger: this.#input.logger,
      step: this.#tools(),
    };
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(this.#handler(ctx));
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(
      (output) => this.#settle({ type: "returned", output }),
      (error) => this.#settle({ type: "threw", error }),
    );
  }

  /** Stops reporting: later steps and the outcome of this execution are ignored. */
  abandon(): void {
    this.#done = true;
    this.#batch = [];
  }

  #settle(outcome: ExecutionOutcome): void {
    if (this.#done) return;
    this.#done = true;
    this.#batch = [];
    this.#hooks.onSettled(outcome);
  }

  #tools(): StepTools {
    const run = <T>(idOrOptions: string | StepOptions, fn: (ctx: { attempt: number }) => T | Promise<T>) => {
      const options = typeof idOrOptions === "string" ? { id: idOrOptions } : idOrOptions;
      assertStepId(options.id);
      if (typeof fn !== "function") throw new TypeError(`step.run("${options.id}"): the second argument must be a function`);
      const r = options.retries;
      if (r !== undefined && !(Number.isInteger(r) && r >= 0 && r <= MAX_RETRIES)) {
        throw new TypeError(`step.run("${options.id}"): retries must be a whole number from 0 to ${MAX_RETRIES}`);
      }
      const key = this.#keys.next(options.id);
      const memo = this.#input.memo(key);
      if (memo?.status === "completed") return Promise.resolve(memo.output as Awaited<T>);
      if (memo?.status === "failed") return Promise.reject(new StepFailedError(options.id, memo.error));
      return new Promise<Awaited<T>>((resolve, reject) => {
        this.#found({
          key,
          id: options.id,
          retries: options.retries,
          fn: fn as FoundStep["fn"],
          resolve: (output) => resolve(output as Awaited<T>),
          reject: (error) => reject(new StepFailedError(options.id, error)),
        });
      });
    };
    return { run } as StepTools;
  }

  #found(step: FoundStep): void {
    if (this.#done) return;
    this.#batch.push(step);
    if (!this.#draining) {
      this.#draining = true;
      void this.#drainThenReport();
    }
  }

  async #drainThenReport(): Promise<void> {
    let seen = this.#batch.length;
    for (let quiet = 0; quiet < QUIET_TURNS; quiet++) {
      await null;
      if (this.#batch.length !== seen) {
        seen = this.#batch.length;
        quiet = -1;
      }
    }
    this.#draining = false;
    const batch = this.#batch;
    this.#batch = [];
    if (!this.#done && batch.length > 0) this.#hooks.onFound(batch);
  }
}
