import { durationMs, wakeTimeMs } from "./duration";
import type { SerializedError } from "./errors";
import { StepFailedError, StepflareError } from "./errors";
import { MAX_RETRIES } from "./function";
import { type InvokeSpec, invokeSpecOf } from "./invoke";
import { assertStepId, StepKeys } from "./step-keys";
import type {
  AnyHandler,
  HandlerContext,
  InvokeOptions,
  Logger,
  StepflareEvent,
  StepOptions,
  StepTools,
  WaitForEventOptions,
} from "./types";
import { type WaitSpec, waitSpecOf } from "./wait";

/**
 * What the journal already holds for a step key, and when it settled: `seq`
 * counts settlements in the run; consecutive numbers settled together, a gap
 * separates one settlement from the next.
 */
export type MemoEntry = ({ status: "completed"; output: unknown } | { status: "failed"; error: SerializedError }) & { seq?: number };

/** A step the handler reached that the journal has not settled yet. */
export interface FoundStep {
  readonly key: string;
  readonly id: string;
  readonly retries: number | undefined;
  /** Runs the user's step function once (a sleep's does nothing). */
  readonly fn: (ctx: { attempt: number }) => unknown;
  /** For a sleep, when it wakes; for a wait, when it times out: as first reached (the journal keeps the first one). */
  readonly until?: number;
  /** For `step.sendEvent`: the events to send, as given; the engine checks them as ingest does. */
  readonly send?: unknown[];
  /** For `step.waitForEvent`: the event awaited; `until` is its timeout. */
  readonly wait?: WaitSpec;
  /** For `step.invoke`: the function to run as a child and its event's data; `until` is its timeout. */
  readonly invoke?: InvokeSpec;
  /** Settles the handler's `await` with a committed output (already JSON-shaped). */
  resolve(output: unknown, seq?: number): void;
  /** Settles the handler's `await` with the step's final error. */
  reject(error: SerializedError, seq?: number): void;
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
  /** A batch's events (`batchEvents`); `[event]` when absent. */
  events?: HandlerContext["events"];
  env: HandlerContext["env"];
  runId: string;
  attempt: number;
  logger: Logger;
  /** The journal's settled steps by key, as the execution starts. */
  memo: ReadonlyMap<string, MemoEntry>;
  /** How a step key reads in `memo`, when the memo is keyed otherwise (the protocol's SHA-1 of the key). */
  memoKey?: (key: string) => string;
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
 * One run of a handler against the journal. Memoized steps resolve from the
 * journal without running (a catch-up is pure microtask work), in the order
 * they settled the first time (see CatchUp); unsettled steps are reported
 * through `onFound` and stay pending until the engine settles them or
 * abandons the execution. The same class serves the run's Durable Object,
 * which keeps an execution live across steps, and the steps consumer, which
 * catches up to the steps it was asked to run.
 */
export class Execution {
  readonly #handler: AnyHandler;
  readonly #input: ExecutionInput;
  readonly #hooks: ExecutionHooks;
  readonly #keys = new StepKeys();
  readonly #catchUp: CatchUp;
  #batch: FoundStep[] = [];
  #draining = false;
  #done = false;
  /** Set while a step's function runs its synchronous part, where a nested step.run would be called. */
  #inStepFn = false;

  constructor(handler: AnyHandler, input: ExecutionInput, hooks: ExecutionHooks) {
    this.#handler = handler;
    this.#input = input;
    this.#hooks = hooks;
    this.#catchUp = new CatchUp(input.memo, () => this.#done);
  }

  get settled(): boolean {
    return this.#done;
  }

  start(): void {
    const ctx: HandlerContext = {
      event: this.#input.event,
      events: this.#input.events ?? [this.#input.event],
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
      this.#checkCall("run", options.id);
      // A mistake in the call itself fails the run at once: retrying the handler would make it again.
      if (typeof fn !== "function")
        throw new StepflareError("invalid_step", `step.run("${options.id}"): the second argument must be a function`);
      const r = options.retries;
      if (r !== undefined && !(Number.isInteger(r) && r >= 0 && r <= MAX_RETRIES)) {
        throw new StepflareError("invalid_step", `step.run("${options.id}"): retries must be a whole number from 0 to ${MAX_RETRIES}`);
      }
      return this.#step<T>(options, fn);
    };
    const sleep = (id: string, duration: number | string): Promise<void> => {
      this.#checkCall("sleep", id);
      const until = Date.now() + durationMs(duration, `step.sleep("${id}")`);
      return this.#step<undefined>({ id, retries: 0 }, () => undefined, until) as Promise<void>;
    };
    const sleepUntil = (id: string, when: Date | string | number): Promise<void> => {
      this.#checkCall("sleepUntil", id);
      const until = wakeTimeMs(when, Date.now(), `step.sleepUntil("${id}")`);
      return this.#step<undefined>({ id, retries: 0 }, () => undefined, until) as Promise<void>;
    };
    const sendEvent = (id: string, payload: unknown): Promise<{ ids: string[] }> => {
      this.#checkCall("sendEvent", id);
      const send = Array.isArray(payload) ? [...payload] : [payload];
      return this.#step<{ ids: string[] }>({ id }, () => ({ ids: [] }), undefined, send);
    };
    const waitForEvent = (id: string, options: WaitForEventOptions): Promise<StepflareEvent | null> => {
      this.#checkCall("waitForEvent", id);
      const { spec, timeoutMs } = waitSpecOf(options, `step.waitForEvent("${id}")`);
      return this.#step<StepflareEvent | null>({ id, retries: 0 }, () => null, Date.now() + timeoutMs, undefined, spec);
    };
    const invoke = (id: string, options: InvokeOptions): Promise<unknown> => {
      this.#checkCall("invoke", id);
      const { spec, timeoutMs } = invokeSpecOf(options, `step.invoke("${id}")`);
      return this.#step<unknown>({ id, retries: 0 }, () => null, Date.now() + timeoutMs, undefined, undefined, spec);
    };
    return { run, sleep, sleepUntil, sendEvent, waitForEvent, invoke } as StepTools;
  }

  /** A step tool's call is refused inside another step's function, and its id must be one. */
  #checkCall(tool: string, id: string): void {
    assertStepId(id);
    if (this.#inStepFn) {
      throw new StepflareError("nested_step", `step.${tool}("${id}") was called inside another step's function; call it from the handler`);
    }
  }

  /**
   * A step the handler reached: resolved from the memo if the journal
   * settled it, else reported as found and settled by the engine.
   */
  #step<T>(
    options: StepOptions,
    fn: (ctx: { attempt: number }) => T | Promise<T>,
    until?: number,
    send?: unknown[],
    wait?: WaitSpec,
    invoke?: InvokeSpec,
  ): Promise<Awaited<T>> {
    const key = this.#keys.next(options.id);
    const memoKey = this.#input.memoKey?.(key) ?? key;
    const memo = this.#input.memo.get(memoKey);
    if (memo) {
      return new Promise<Awaited<T>>((resolve, reject) =>
        this.#catchUp.reached(memoKey, () =>
          memo.status === "completed" ? resolve(memo.output as Awaited<T>) : reject(new StepFailedError(options.id, memo.error, key)),
        ),
      );
    }
    return new Promise<Awaited<T>>((resolve, reject) => {
      this.#found({
        key,
        id: options.id,
        retries: options.retries,
        ...(until === undefined ? {} : { until }),
        ...(send === undefined ? {} : { send }),
        ...(wait === undefined ? {} : { wait }),
        ...(invoke === undefined ? {} : { invoke }),
        fn: (ctx) => {
          this.#inStepFn = true;
          try {
            return fn(ctx);
          } finally {
            this.#inStepFn = false;
          }
        },
        // Settled now, but resumed only after every memoized step before it.
        resolve: (output, seq) => this.#catchUp.afterMemo(() => resolve(output as Awaited<T>), seq),
        reject: (error, seq) => this.#catchUp.afterMemo(() => reject(new StepFailedError(options.id, error, key)), seq),
      });
    });
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

/**
 * Releases memoized steps in the order they settled the first time, not the
 * order the handler reaches them. A reused step id is numbered in the order
 * the handler reaches it, and in parallel branches that order follows which
 * earlier step finished first: releasing settlements in their first order
 * reproduces it, so each key names the same step on every catch-up.
 *
 * Steps that settled together are released together; between settlements the
 * handler's microtasks run out first, as they did between the events that
 * delivered them. A step whose turn comes before the handler reaches it is
 * waited for; if the handler reaches nothing more while others wait (it took
 * another path, or awaits I/O outside any step), it loses its turn and
 * resolves whenever it is reached. Results that settle during the execution
 * resume the handler only once the journal's have been released.
 */
class CatchUp {
  /** Memoized keys in settlement order, and each one's settlement number. */
  readonly #order: string[];
  readonly #seqs: number[];
  readonly #reached = new Map<string, () => void>();
  readonly #passed = new Set<string>();
  readonly #waiting: { resume: () => void; seq: number | undefined }[] = [];
  /** The settlement the handler last resumed from, to tell whether the next one came with it. */
  #lastSeq: number | undefined;
  readonly #ended: () => boolean;
  #next = 0;
  #reaches = 0;
  #pumping = false;

  constructor(memo: ReadonlyMap<string, MemoEntry>, ended: () => boolean) {
    this.#ended = ended;
    const ordered = [...memo].filter(([, e]) => e.seq !== undefined).sort((a, b) => a[1].seq! - b[1].seq!);
    this.#order = ordered.map(([key]) => key);
    this.#seqs = ordered.map(([, e]) => e.seq!);
    // Entries without a settlement order resolve as soon as they are reached.
    for (const [key, e] of memo) if (e.seq === undefined) this.#passed.add(key);
  }

  /** The handler reached memoized `key`; `release` resumes it. */
  reached(key: string, release: () => void): void {
    if (this.#passed.has(key)) return release();
    this.#reached.set(key, release);
    this.#reaches++;
    void this.#pump();
  }

  /**
   * Runs `resume` (a step settled during the execution, as settlement `seq`)
   * now if the journal's steps are all released, else after them, with the
   * handler's microtasks run out first wherever a settlement begins.
   */
  afterMemo(resume: () => void, seq?: number): void {
    if (!this.#pumping && this.#next >= this.#order.length && this.#waiting.length === 0) return resume();
    this.#waiting.push({ resume, seq });
    void this.#pump();
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#ended()) {
        if (this.#next < this.#order.length) {
          const key = this.#order[this.#next]!;
          const release = this.#reached.get(key);
          if (release) {
            this.#reached.delete(key);
            this.#next++;
            this.#lastSeq = this.#seqs[this.#next - 1];
            release();
            const following = this.#seqs[this.#next];
            if (following !== undefined && !sameSettlement(this.#lastSeq, following)) await this.#settleTurns();
            continue;
          }
          if (this.#reached.size === 0 && this.#waiting.length === 0) return; // nothing waits on it yet
          const before = this.#reaches;
          await this.#settleTurns();
          if (this.#reached.has(key) || this.#reaches !== before) continue;
          this.#passed.add(key); // never reached while others waited: it loses its turn
          this.#next++;
          continue;
        }
        const waiting = this.#waiting.shift();
        if (!waiting) return;
        // A settlement other than the one just resumed from lets that one's effects play out first.
        if (this.#lastSeq !== undefined && !sameSettlement(this.#lastSeq, waiting.seq)) await this.#settleTurns();
        this.#lastSeq = waiting.seq;
        waiting.resume();
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Lets the handler's microtasks run out, as the same quiet that ends a batch of found steps. */
  async #settleTurns(): Promise<void> {
    for (let i = 0; i < QUIET_TURNS; i++) await null;
  }
}

/** Settlement numbers are consecutive within one settlement; a gap begins the next. */
const sameSettlement = (previous: number | undefined, next: number | undefined): boolean =>
  previous !== undefined && next !== undefined && next === previous + 1;
